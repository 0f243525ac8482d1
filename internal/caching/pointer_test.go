package caching_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/caching"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"

	"github.com/nix-buildpack/nix-buildpack/internal/closure"
	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixbuild"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

func TestMain(m *testing.M) {
	nixmount.MaybeRunChild()
	os.Exit(m.Run())
}

// builder is an installed Nix as a restore uses it: its store and
// nixbuild's evaluation.
type builder struct {
	nixstore.Store
	nix nixinstall.Nix
}

func (b builder) Instantiate(app config.App) (string, error) { return nixbuild.Instantiate(b.nix, app) }

// installNix installs Nix from the tarball fixture into a fresh directory.
func installNix(t *testing.T) builder {
	t.Helper()
	tarball := testenv.NixTarball(t)
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(tarball), "nix-"), "-x86_64-linux.tar.xz")
	nix, err := nixinstall.Ensure(filepath.Join(t.TempDir(), "nix"), nixinstall.Tarball{Version: version, Checksum: "test",
		Open: func() (io.ReadCloser, error) { return os.Open(tarball) }}, nixmount.Auto, nixinstall.Conf{})
	if err != nil {
		t.Fatal(err)
	}
	return builder{Store: nix.Store(), nix: nix}
}

// pointerApp writes an app whose output holds text.
func pointerApp(t *testing.T, text string) config.App {
	t.Helper()
	dir := t.TempDir()
	testenv.Busybox(t, dir)
	expr := `let bb = ./bb; in { package = derivation {
  name = "app"; system = "x86_64-linux"; builder = "${bb}/bin/sh"; PATH = "${bb}/bin";
  args = ["-c" "mkdir -p $out; echo ` + text + ` > $out/text; ln -s ${bb} $out/bb"]; }; }`
	if err := os.WriteFile(filepath.Join(dir, "hop3.nix"), []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	return config.App{Dir: dir, NixFile: "hop3.nix"}
}

// buildAndPush builds app in nix and pushes it, with its source pointer,
// to caches.
func buildAndPush(t *testing.T, b builder, app config.App, caches caching.Caches, log io.Writer) string {
	t.Helper()
	before, err := caching.StoreEntries(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := nixbuild.Build(b.nix, app, nixbuild.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	runtime, err := closure.Runtime(b, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := caches.Push(t.Context(), b, caching.Built{Output: out, Runtime: runtime, Before: before}, digest(t, app), log); err != nil {
		t.Fatal(err)
	}
	return out
}

func digest(t *testing.T, app config.App) string {
	t.Helper()
	d, err := caching.SourceDigest(app.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSwappedPointerIsRefused copies app B's source pointer over app A's in
// a cache with signed pointers and trusted keys. Restoring A must not
// deploy B: with only B in the cache (policy never) nothing is restored;
// with A there too (policy missing) A is restored by evaluating hop3.nix.
// Both warn about the pointer.
func TestSwappedPointerIsRefused(t *testing.T) {
	b := installNix(t)
	keys := t.TempDir()
	if out, err := b.nix.Command("nix-store", "--generate-binary-cache-key", "ptr-test-1", keys+"/sec", keys+"/pub").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	sec, _ := os.ReadFile(keys + "/sec")
	pub, _ := os.ReadFile(keys + "/pub")
	appA, appB := pointerApp(t, "I-am-A"), pointerApp(t, "I-am-B")
	digestA, digestB := digest(t, appA), digest(t, appB)

	for _, policy := range []settings.Policy{settings.BuildNever, settings.BuildMissing} {
		t.Run(string(policy), func(t *testing.T) {
			dir := t.TempDir()
			var log bytes.Buffer
			caches, err := caching.Open(t.Context(), settings.Caches{Write: "file://" + dir, Policy: policy,
				SecretKey: string(sec), TrustedKeys: []string{string(pub)}}, &log)
			if err != nil {
				t.Fatal(err)
			}
			outB := buildAndPush(t, b, appB, caches, &log)
			outA := ""
			if policy == "missing" {
				outA = buildAndPush(t, b, appA, caches, &log)
			}
			pointers := filepath.Join(dir, "nixbp", "source")
			dataB, err := os.ReadFile(filepath.Join(pointers, digestB+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(pointers, digestA+".json"), dataB, 0o644); err != nil {
				t.Fatal(err)
			}

			log.Reset()
			fresh := installNix(t)
			res, err := caches.Restore(t.Context(), fresh, appA, digest(t, appA), &log)
			t.Logf("restore of A:\n%s", log.String())
			if err != nil {
				t.Fatal(err)
			}
			if res.Output == outB || res.ByPointer {
				t.Fatalf("restored %s (by pointer: %v): app B's output under app A's name", res.Output, res.ByPointer)
			}
			if res.Output != outA {
				t.Errorf("restored %q, want %q", res.Output, outA)
			}
			want := "nixbp/source/" + digestA + ".json in file://" + dir + " answers source digest \"" + digestB + "\", not this one"
			if !strings.Contains(log.String(), want) || !strings.Contains(log.String(), "evaluating hop3.nix instead") {
				t.Errorf("the log does not warn %q", want)
			}
			if policy != "missing" {
				return
			}
			// A's output was restored from the write cache by evaluation:
			// A's pointer is rewritten, so the next restore needs none.
			log.Reset()
			res, err = caches.Restore(t.Context(), installNix(t), appA, digest(t, appA), &log)
			t.Logf("second restore of A:\n%s", log.String())
			if err != nil || res.Output != outA || !res.ByPointer {
				t.Errorf("second restore: %+v, %v; want %s by pointer", res, err, outA)
			}
		})
	}
}

// TestRestoreRepairsUnregisteredPaths leaves a store as a restore killed
// between renaming into the store and registering does (the cache's Fetch,
// whose paths nobody registers; cmd/nixbp's TestPullKilledAtEachStep kills
// a real process there). Restore must not take the paths on disk for
// present: it fetches them again, registers them, and the store verifies.
func TestRestoreRepairsUnregisteredPaths(t *testing.T) {
	b := installNix(t)
	app := pointerApp(t, "repaired")
	dir := t.TempDir()
	var log bytes.Buffer
	caches, err := caching.Open(t.Context(), settings.Caches{Write: "file://" + dir, Policy: settings.BuildMissing}, &log)
	if err != nil {
		t.Fatal(err)
	}
	out := buildAndPush(t, b, app, caches, &log)

	fresh := installNix(t)
	r, err := caches.Write.Fetch(t.Context(), []string{out}, fresh)
	if err != nil || len(r.Installed) == 0 {
		t.Fatalf("fetch: %+v, %v", r, err)
	}
	if err := fresh.nix.Command("nix-store", "--check-validity", out).Run(); err == nil {
		t.Fatalf("%s is valid before registration", out)
	}

	log.Reset()
	res, err := caches.Restore(t.Context(), fresh, app, digest(t, app), &log)
	t.Logf("restore:\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Output != out || !res.ByPointer {
		t.Fatalf("restored %q (by pointer %v), want %s", res.Output, res.ByPointer, out)
	}
	if !strings.Contains(log.String(), "Replacing "+out+": it is on disk but not valid") {
		t.Errorf("the log does not say the unregistered copy was replaced")
	}
	for _, args := range [][]string{{"--check-validity", out}, {"--verify", "--check-contents"}} {
		if msg, err := fresh.nix.Command("nix-store", args...).CombinedOutput(); err != nil {
			t.Errorf("nix-store %v: %v\n%s", args, err, msg)
		}
	}
}
