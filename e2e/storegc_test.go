package e2e_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// builds is how many releases the bounded cache tests build.
const builds = 10

// TestBoundedBuildCache builds growing-web ten times, each a new release,
// through the CNB lifecycle with one reused layers directory (the nix cache
// layer) and through bin/compile with one CACHE_DIR, and checks that the
// build cache's store is flat from the second build on (paths, NAR bytes,
// bytes on disk), that each release builds the app alone (its build-time
// input kept), and that an unchanged rebuild builds nothing.
func TestBoundedBuildCache(t *testing.T) {
	en := setup(t)
	t.Run("Lifecycle", func(t *testing.T) {
		root := openTempDir(t)
		w, err := e2e.NewWorkspace(root, en.lifecycle, e2e.Options{
			AppSource: filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "growing-web"), Buildpack: en.buildpack,
			NixTarball: en.tarball, Busybox: en.busybox, Env: e2e.Offline(nil), UID: uid, GID: gid})
		if err != nil {
			t.Fatal(err)
		}
		if out, err := w.Detect(); err != nil {
			t.Fatalf("detect: %v\n%s", err, out)
		}
		nixDir := filepath.Join(w.Layers, "nix-buildpack_nix", "nix", "nix")
		checkBounded(t, nixDir, func(release string) string {
			writeRelease(t, w.App, release)
			out, err := w.Build()
			if err != nil {
				t.Fatalf("build of release %s: %v\n%s", release, err, out)
			}
			return out
		})
		serve(t, w, "Hello from growing-web\n")
	})
	t.Run("Heroku", func(t *testing.T) {
		bp, err := e2e.HerokuBuildpack(filepath.Dir(en.buildpack), filepath.Join(openTempDir(t), "heroku-buildpack"))
		if err != nil {
			t.Fatal(err)
		}
		hen := herokuEnv{buildpack: bp, tarball: en.tarball, busybox: en.busybox}
		cache := filepath.Join(openTempDir(t), "cache")
		var last *e2e.HerokuApp
		checkBounded(t, filepath.Join(cache, "nix"), func(release string) string {
			// Every push is a fresh checkout with the same CACHE_DIR.
			last = newApp(t, hen, "growing-web", cache, nil, uid, gid)
			writeRelease(t, last.Build, release)
			out, err := last.Compile(nil)
			if err != nil {
				t.Fatalf("compile of release %s: %v\n%s", release, err, out)
			}
			return out
		})
		serveSlug(t, last, "web", nil, "Hello from growing-web\n")
	})
	// A compile killed (SIGKILL to its process group) at points during
	// the collection leaves a store the next compile uses.
	t.Run("HerokuKilled", func(t *testing.T) { killedDuringCollection(t, en) })
	// With collection off the same builds grow the store: what the test
	// above would see without it.
	t.Run("HerokuOff", func(t *testing.T) {
		bp, err := e2e.HerokuBuildpack(filepath.Dir(en.buildpack), filepath.Join(openTempDir(t), "heroku-buildpack"))
		if err != nil {
			t.Fatal(err)
		}
		hen := herokuEnv{buildpack: bp, tarball: en.tarball, busybox: en.busybox}
		cache := filepath.Join(openTempDir(t), "cache")
		var disk []int64
		for i := 1; i <= 3; i++ {
			a := newApp(t, hen, "growing-web", cache, map[string]string{"BP_NIX_GC": "false"}, uid, gid)
			writeRelease(t, a.Build, fmt.Sprintf("%03d", i))
			out, err := a.Compile(nil)
			if err != nil || !strings.Contains(out, "Keeping every store path (BP_NIX_GC=false)") || strings.Contains(out, "Store kept") {
				t.Fatalf("compile with BP_NIX_GC=false: %v\n%s", err, out)
			}
			disk = append(disk, diskBytes(t, filepath.Join(cache, "nix")))
			t.Logf("build %d with BP_NIX_GC=false: %s on disk", i, mib(disk[i-1]))
			if i > 1 && disk[i-1] < disk[i-2]+1<<20 {
				t.Errorf("build %d with collection off: %d bytes on disk, build %d: %d; want 1 MiB more (the new release)", i, disk[i-1], i-1, disk[i-2])
			}
		}
	})
}

// checkBounded runs build for releases 1..builds and then release builds
// again unchanged, checking the store in nixDir after each.
func checkBounded(t *testing.T, nixDir string, build func(release string) string) {
	t.Helper()
	type size struct{ paths, nar, disk int64 }
	var sizes []size
	for i := 1; i <= builds+1; i++ {
		release := fmt.Sprintf("%03d", min(i, builds))
		out := build(release)
		built := buildingLines(out)
		kept := keptLine(t, out)
		s := size{paths: kept.paths, nar: kept.nar, disk: diskBytes(t, nixDir)}
		sizes = append(sizes, s)
		t.Logf("build %2d (release %s): %d Nix builds; store %d paths, %s NAR, %s on disk", i, release, len(built),
			s.paths, mib(s.nar), mib(s.disk))
		if i == builds {
			logLines(t, "collection after build 10", out, "Collecting garbage", "Store kept")
		}
		switch {
		case i == 1 && len(built) != 2:
			t.Errorf("first build built %v, want the toolchain and the app", built)
		case i > 1 && i <= builds && (len(built) != 1 || !strings.HasSuffix(built[0], "-growing-web.drv")):
			t.Errorf("release %s built %v, want the app alone (the toolchain kept in the store)", release, built)
		case i > builds && len(built) != 0:
			t.Errorf("unchanged rebuild of release %s built %v, want nothing", release, built)
		}
		if i > 2 && (s.paths != sizes[1].paths || s.nar != sizes[1].nar) {
			t.Errorf("build %d: store %d paths, %d NAR bytes; after build 2: %d, %d: not flat", i, s.paths, s.nar, sizes[1].paths, sizes[1].nar)
		}
		// Bytes on disk also count Nix's database (SQLite reuses freed
		// pages) and build logs (collected with their .drv).
		if i > 2 && s.disk > sizes[1].disk+256<<10 {
			t.Errorf("build %d: %d bytes on disk, after build 2: %d: growing", i, s.disk, sizes[1].disk)
		}
	}
}

var keptRe = regexp.MustCompile(`Store kept ([\d.]+) ([KMG]i)?B in (\d+) paths`)

type kept struct{ paths, nar int64 }

// keptLine reads the collection's log line; NAR sizes are logged rounded,
// so nar is in units of 0.1 of the logged unit.
func keptLine(t *testing.T, out string) kept {
	t.Helper()
	m := keptRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("build log has no %q line:\n%s", "Store kept", out)
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	unit := map[string]float64{"": 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}[m[2]]
	paths, _ := strconv.ParseInt(m[3], 10, 64)
	return kept{paths: paths, nar: int64(f * unit)}
}

var buildingRe = regexp.MustCompile(`building '(/nix/store/[^']+\.drv)'`)

func buildingLines(out string) []string {
	var drvs []string
	for _, m := range buildingRe.FindAllStringSubmatch(out, -1) {
		drvs = append(drvs, m[1])
	}
	return drvs
}

// diskBytes sums the sizes of the files and links under dir, as a cache
// layer's tarball holds them.
func diskBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writeRelease(t *testing.T, app, release string) {
	t.Helper()
	p := filepath.Join(app, "release.txt")
	if err := os.WriteFile(p, []byte(release+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
}

func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

func killedDuringCollection(t *testing.T, en env) {
	bp, err := e2e.HerokuBuildpack(filepath.Dir(en.buildpack), filepath.Join(openTempDir(t), "heroku-buildpack"))
	if err != nil {
		t.Fatal(err)
	}
	hen := herokuEnv{buildpack: bp, tarball: en.tarball, busybox: en.busybox}
	cache := filepath.Join(openTempDir(t), "cache")
	// Garbage for the killed collections: three releases built with
	// collection off.
	for i := 1; i <= 3; i++ {
		a := newApp(t, hen, "growing-web", cache, map[string]string{"BP_NIX_GC": "false"}, uid, gid)
		writeRelease(t, a.Build, fmt.Sprintf("g%02d", i))
		if out, err := a.Compile(nil); err != nil {
			t.Fatalf("compile: %v\n%s", err, out)
		}
	}
	during := 0
	for i, delay := range []time.Duration{0, 40 * time.Millisecond, 120 * time.Millisecond, 400 * time.Millisecond} {
		a := newApp(t, hen, "growing-web", cache, nil, uid, gid)
		writeRelease(t, a.Build, fmt.Sprintf("k%02d", i))
		out, err := a.CompileKilledAt(nil, "Collecting garbage in the Nix store", delay)
		if err != nil && !errors.Is(err, e2e.ErrEndedFirst) {
			t.Fatalf("%v\n%s", err, out)
		}
		when := "after it ended"
		if errors.Is(err, e2e.ErrEndedFirst) {
			// On a quiet machine the whole compile can end within the
			// longest delay; the kills that matter are those during the
			// collection, counted below.
			when = "not at all: compile had ended"
		} else if !strings.Contains(out, "Store kept") {
			when, during = "during the collection", during+1
		}
		t.Logf("compile killed %s after the collection began: %s", delay, when)
		verifyStore(t, bp, filepath.Join(cache, "nix"))
	}
	if during == 0 {
		t.Errorf("no kill landed during the collection")
	}
	a := newApp(t, hen, "growing-web", cache, nil, uid, gid)
	writeRelease(t, a.Build, "end")
	out, err := a.Compile(nil)
	if err != nil || !strings.Contains(out, "Store kept") {
		t.Fatalf("compile after the kills: %v\n%s", err, out)
	}
	if built := buildingLines(out); len(built) != 1 {
		t.Errorf("compile after the kills built %v, want the app alone", built)
	}
	logLines(t, "compile after the kills", out, "Store kept")
	verifyStore(t, bp, filepath.Join(cache, "nix"))
	serveSlug(t, a, "web", nil, "Hello from growing-web\n")
}

// verifyStore runs the buildpack's own `nixbp store verify` on a build
// cache's store as the build user.
func verifyStore(t *testing.T, bp, nixDir string) {
	t.Helper()
	cmd := exec.Command("setpriv", "--reuid="+itoa(uid), "--regid="+itoa(gid), "--clear-groups", "--",
		filepath.Join(bp, "lib", "linux-amd64", "nixbp"), "store", "verify", "--nix-dir", nixDir)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nixbp store verify: %v\n%s", err, out)
	}
}
