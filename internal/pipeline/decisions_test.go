package pipeline

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/caching"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline/fake"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// cacheHolds is what the cache of a row holds before the build.
type cacheHolds string

const (
	noCache     cacheHolds = "no cache configured"
	empty       cacheHolds = "an empty cache"
	closureOnly cacheHolds = "the output's closure, no source pointer" // a pointer miss
	pointerHit  cacheHolds = "the closure and the source pointer"      // a pointer hit
)

// TestDecisionTable runs the pipeline with the fake Nix (the decisions are
// the pipeline's; real-Nix tests cover Nix) over the build policy, what the
// cache holds, whether it is writable, and whether the target kept the
// previous build's closure. The caches are real (file://).
func TestDecisionTable(t *testing.T) {
	app := fakeApp(t)
	seed := seedCache(t, app)
	rows := []struct {
		policy   settings.Policy
		holds    cacheHolds
		writable bool
		// What must happen.
		nix          bool // Nix made usable (else the closure came by the pointer alone)
		instantiated int
		built        int
		err          string
		// What the writable cache holds afterwards.
		narinfoAfter, pointerAfter bool
	}{
		{policy: settings.BuildMissing, holds: noCache, nix: true, built: 1},
		{policy: settings.BuildNever, holds: noCache, nix: true, err: "the build policy is never"},
		{policy: settings.BuildAlways, holds: noCache, nix: true, built: 1},

		{policy: settings.BuildMissing, holds: empty, writable: true, nix: true, instantiated: 1, built: 1, narinfoAfter: true, pointerAfter: true},
		{policy: settings.BuildMissing, holds: empty, nix: true, instantiated: 1, built: 1},
		{policy: settings.BuildMissing, holds: closureOnly, writable: true, nix: true, instantiated: 1, narinfoAfter: true, pointerAfter: true},
		{policy: settings.BuildMissing, holds: closureOnly, nix: true, instantiated: 1},
		{policy: settings.BuildMissing, holds: pointerHit, writable: true, narinfoAfter: true, pointerAfter: true},
		{policy: settings.BuildMissing, holds: pointerHit},

		{policy: settings.BuildNever, holds: empty, writable: true, nix: true, instantiated: 1, err: "the build policy is never"},
		{policy: settings.BuildNever, holds: empty, nix: true, instantiated: 1, err: "the build policy is never"},
		{policy: settings.BuildNever, holds: closureOnly, writable: true, nix: true, instantiated: 1, narinfoAfter: true, pointerAfter: true},
		{policy: settings.BuildNever, holds: closureOnly, nix: true, instantiated: 1},
		{policy: settings.BuildNever, holds: pointerHit, writable: true, narinfoAfter: true, pointerAfter: true},
		{policy: settings.BuildNever, holds: pointerHit},

		// always reads no cache and writes no pointer (there is no digest).
		{policy: settings.BuildAlways, holds: empty, writable: true, nix: true, built: 1, narinfoAfter: true},
		{policy: settings.BuildAlways, holds: empty, nix: true, built: 1},
		{policy: settings.BuildAlways, holds: pointerHit, writable: true, nix: true, built: 1, narinfoAfter: true, pointerAfter: true},
		{policy: settings.BuildAlways, holds: pointerHit, nix: true, built: 1},
	}
	for _, row := range rows {
		for _, reused := range []bool{false, true} {
			name := string(row.policy) + ", " + string(row.holds)
			if row.writable {
				name += ", writable"
			}
			if reused {
				name += ", layers reused"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				var logBuf bytes.Buffer
				in := Input{AppDir: app, NixDir: filepath.Join(dir, "nix"), Log: log.NewPaketoLogger(&logBuf)}
				cacheDir := filepath.Join(dir, "cache")
				if row.holds != noCache {
					holding(t, seed, cacheDir, row.holds)
					s := settings.Caches{Policy: row.policy}
					if row.writable {
						s.Write, s.WriteFrom = "file://"+cacheDir, settings.CacheName
					} else {
						s.Read = []string{"file://" + cacheDir}
					}
					var err error
					if in.Caches, err = caching.Open(context.Background(), s, in.Log.BodyWriter()); err != nil {
						t.Fatal(err)
					}
				}
				in.Caches.Policy = row.policy
				var err error
				if in.SourceDigest, err = in.Caches.SourceDigest(app); err != nil {
					t.Fatal(err)
				}
				nix, err := fake.New(filepath.Join(dir, "fake"))
				if err != nil {
					t.Fatal(err)
				}
				usedNix := false
				in.useNix = func(Input) (Nix, error) { usedNix = true; return nix, nil }
				target := &testTarget{dir: filepath.Join(dir, "target"), reused: reused}

				res, err := Run(in, target)
				t.Logf("log:\n%s", logBuf.String())
				if row.err != "" {
					if err == nil || !strings.Contains(err.Error(), row.err) {
						t.Fatalf("error %v, want one containing %q", err, row.err)
					}
				} else if err != nil {
					t.Fatal(err)
				}
				if usedNix != row.nix || nix.Instantiated != row.instantiated || nix.Built != row.built {
					t.Errorf("Nix used %v, %d evaluations, %d builds; want %v, %d, %d",
						usedNix, nix.Instantiated, nix.Built, row.nix, row.instantiated, row.built)
				}
				if row.writable {
					if got := exists(cacheDir, narinfo.HashPart(fake.Output)+".narinfo"); got != row.narinfoAfter {
						t.Errorf("the writable cache holds the output's narinfo: %v, want %v", got, row.narinfoAfter)
					}
					// One app: its pointer is the only one a cache can hold.
					if got := pointers(cacheDir) == 1; got != row.pointerAfter {
						t.Errorf("the writable cache holds the source pointer: %v, want %v", got, row.pointerAfter)
					}
				}
				if row.err != "" {
					return
				}
				if res.Output != fake.Output || target.emitted == nil {
					t.Fatalf("result %q, emitted %v", res.Output, target.emitted != nil)
				}
				copied := exists(target.dir, "store", filepath.Base(fake.Output), "hop3", "runtime.json")
				if reused == copied || reused != strings.Contains(logBuf.String(), "Reusing the runtime closure of "+fake.Output) {
					t.Errorf("closure copied %v; want it copied unless the target kept it (%v), and the log to say which", copied, reused)
				}
				if !row.nix && !strings.Contains(logBuf.String(), "Nix neither installed nor run") {
					t.Errorf("the log does not say Nix was not needed")
				}
			})
		}
	}
}

// fakeApp is an app the fake Nix "builds": a hop3.nix (never evaluated).
func fakeApp(t *testing.T) string {
	t.Helper()
	app := t.TempDir()
	if err := os.WriteFile(filepath.Join(app, "hop3.nix"), []byte("# built by the fake Nix\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return app
}

// seedCache builds the app once with the fake Nix into a writable cache:
// the closure's narinfos and NARs, and the source pointer.
func seedCache(t *testing.T, app string) string {
	t.Helper()
	dir := t.TempDir()
	seed := filepath.Join(dir, "cache")
	if err := os.Mkdir(seed, 0o755); err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	in := Input{AppDir: app, NixDir: filepath.Join(dir, "nix"), Log: log.NewPaketoLogger(&logBuf)}
	var err error
	in.Caches, err = caching.Open(context.Background(), settings.Caches{Write: "file://" + seed, WriteFrom: settings.CacheName,
		Policy: settings.BuildMissing}, in.Log.BodyWriter())
	if err != nil {
		t.Fatal(err)
	}
	if in.SourceDigest, err = in.Caches.SourceDigest(app); err != nil {
		t.Fatal(err)
	}
	nix, err := fake.New(filepath.Join(dir, "fake"))
	if err != nil {
		t.Fatal(err)
	}
	in.useNix = func(Input) (Nix, error) { return nix, nil }
	if _, err := Run(in, &testTarget{dir: filepath.Join(dir, "target")}); err != nil || nix.Built != 1 {
		t.Fatalf("seeding the cache: %v, %d builds\n%s", err, nix.Built, logBuf.String())
	}
	if pointers(seed) != 1 {
		t.Fatalf("the seeded cache holds %d source pointers\n%s", pointers(seed), logBuf.String())
	}
	return seed
}

// holding copies into dir what a row's cache holds.
func holding(t *testing.T, seed, dir string, holds cacheHolds) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if holds == empty {
		return
	}
	if out, err := exec.Command("cp", "-a", seed+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	if holds == closureOnly {
		if err := os.RemoveAll(filepath.Join(dir, "nixbp")); err != nil {
			t.Fatal(err)
		}
	}
}

func exists(parts ...string) bool {
	_, err := os.Stat(filepath.Join(parts...))
	return err == nil
}

func pointers(cacheDir string) int {
	entries, _ := os.ReadDir(filepath.Join(cacheDir, "nixbp", "source"))
	return len(entries)
}

// testTarget keeps the closure in dir, or says it kept the previous one.
type testTarget struct {
	dir     string
	reused  bool
	emitted *Result
}

func (t *testTarget) ClosureDir(string) (string, bool, error) {
	return t.dir, t.reused, nil
}

func (t *testTarget) Launcher() Launcher {
	return Launcher{Path: "/launcher/nixbp-launch", NixDir: "/view/nix"}
}

func (t *testTarget) Emit(r Result) error {
	t.emitted = &r
	return nil
}
