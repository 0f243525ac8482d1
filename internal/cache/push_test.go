package cache

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// privateStore copies the fixture store so a test may change it.
func privateStore(t testing.TB, f *fixture) *fixture {
	t.Helper()
	dir := t.TempDir()
	if err := exec.Command("cp", "-a", f.root, dir+"/store").Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tree.Remove(dir) })
	c := *f
	c.root = dir + "/store"
	return &c
}

func TestPushRefusesPathChangedOnDisk(t *testing.T) {
	f := privateStore(t, buildFixture(t))
	lib, app, top := f.pathNamed(t, "lib"), f.pathNamed(t, "app"), f.pathNamed(t, "top")
	file := filepath.Join(f.storeDir(), filepath.Base(lib), "lib", "a.txt")
	if err := os.Chmod(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := openCache(t, "file://"+dir, Options{}).Push(ctx(t), f.infos(t), f.storeDir())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{app, lib, top}
	slices.Sort(want)
	if !slices.Equal(res.Failed, want) || res.Uploaded != len(f.closure)-3 {
		t.Fatalf("push: %+v", res)
	}
	pattern := regexp.MustCompile(regexp.QuoteMeta(lib) + `: not pushed: its contents in .* do not match the Nix database`)
	if !slices.ContainsFunc(res.Warnings, pattern.MatchString) {
		t.Fatalf("warnings %q, want one matching %s", res.Warnings, pattern)
	}
	for _, p := range want {
		if _, err := os.Stat(filepath.Join(dir, narinfo.HashPart(p)+".narinfo")); err == nil {
			t.Errorf("%s has a narinfo in the cache", p)
		}
	}
}

func TestPushCompressions(t *testing.T) {
	f := buildFixture(t)
	for _, compression := range []string{"xz", "none"} {
		t.Run(compression, func(t *testing.T) {
			dir := t.TempDir()
			res, err := openCache(t, "file://"+dir+"?compression="+compression, Options{}).Push(ctx(t), f.infos(t), f.storeDir())
			if err != nil || len(res.Failed) != 0 {
				t.Fatalf("push: %+v, %v", res, err)
			}
			data, err := os.ReadFile(filepath.Join(dir, narinfo.HashPart(f.top)+".narinfo"))
			if err != nil || !strings.Contains(string(data), "Compression: "+compression+"\n") {
				t.Fatalf("narinfo: %s, %v", data, err)
			}
			root := emptyStore(t)
			nix(t, "", "nix", "copy", "--from", "file://"+dir, "--to", root, "--no-check-sigs", f.top)
			checkStore(t, root, f, f.closure)
			vr, err := openCache(t, "file://"+dir, Options{}).Verify(ctx(t))
			if err != nil || len(vr.Bad) != 0 {
				t.Fatalf("verify: %+v, %v", vr, err)
			}
		})
	}
}

func TestPushAfterOnePathChanged(t *testing.T) {
	f := buildFixture(t)
	dir := t.TempDir()
	c := openCache(t, "file://"+dir, Options{})
	infos := f.infos(t)
	if res, err := c.Push(ctx(t), infos, f.storeDir()); err != nil || res.Uploaded != len(infos) {
		t.Fatalf("push: %+v, %v", res, err)
	}
	// A new top path: the same closure below it.
	src := t.TempDir()
	for _, name := range []string{"bb"} {
		if err := exec.Command("cp", "-a", filepath.Join(f.src, name), src).Run(); err != nil {
			t.Fatal(err)
		}
	}
	fixtureNix, err := os.ReadFile(filepath.Join(f.src, "default.nix"))
	if err != nil {
		t.Fatal(err)
	}
	expr := strings.Replace(string(fixtureNix), `echo ${app} ${data} > $out/refs`, `echo changed ${app} ${data} > $out/refs`, 1)
	if err := os.WriteFile(filepath.Join(src, "default.nix"), []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	g := privateStore(t, f)
	top := strings.TrimSpace(nix(t, "", "nix-build", "--store", g.root, "--no-out-link", filepath.Join(src, "default.nix")))
	if top == f.top {
		t.Fatal("the changed expression built the same top path")
	}
	g.top = top
	g.closure = strings.Fields(nix(t, "", "nix-store", "--store", g.root, "-qR", top))
	res, err := c.Push(ctx(t), g.infos(t), g.storeDir())
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 1 || res.Skipped != len(infos)-1 {
		t.Fatalf("push after one change: %+v", res)
	}
}

func TestPushMisuse(t *testing.T) {
	c := openCache(t, "file://"+t.TempDir(), Options{})
	if _, err := c.Push(ctx(t), nil, "/nonexistent/store"); err == nil {
		t.Error("Push into a missing store dir succeeded")
	}
	if _, err := c.Push(ctx(t), []narinfo.PathInfo{{StorePath: "/tmp/x", NarHash: hash32}}, t.TempDir()); err == nil {
		t.Error("Push of a non-store path succeeded")
	}
	if _, err := c.Fetch(ctx(t), []string{"/usr/bin"}, noneValid(t.TempDir())); err == nil {
		t.Error("Fetch of a non-store path succeeded")
	}
	if _, err := c.Fetch(ctx(t), nil, noneValid("/nonexistent/store")); err == nil {
		t.Error("Fetch into a missing store dir succeeded")
	}
}
