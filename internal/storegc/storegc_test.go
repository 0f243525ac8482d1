package storegc_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
	"github.com/nix-buildpack/nix-buildpack/internal/storegc"
)

// addGarbage adds n small unrooted store paths (nix-store --add).
func addGarbage(t *testing.T, nix nixinstall.Nix, app string, n int) []string {
	t.Helper()
	dir, err := os.MkdirTemp(app, "garbage-")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--add"}
	for i := 0; i < n; i++ {
		p := filepath.Join(dir, fmt.Sprintf("junk-%d", i))
		if err := os.WriteFile(p, []byte(fmt.Sprintf("garbage %d %s\n", i, dir)), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out, err := nix.Command("nix-store", args...).Output()
	if err != nil {
		t.Fatalf("nix-store --add: %v", err)
	}
	paths := nixstore.ReadLines(out)
	if len(paths) != n {
		t.Fatalf("nix-store --add made %d paths, want %d", len(paths), n)
	}
	return paths
}

func collect(t *testing.T, nix nixinstall.Nix, output string, o storegc.Options) storegc.Report {
	t.Helper()
	o.Enabled = true
	rep, err := storegc.Collect(nix, storegc.Build{Output: output}, o)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	t.Logf("%s", strings.Join(rep.Lines(), "\n"))
	checkRoots(t, nix)
	return rep
}

// checkRoots fails unless every link under the buildpack's roots points to
// a valid store path that is on disk.
func checkRoots(t *testing.T, nix nixinstall.Nix) {
	t.Helper()
	dir := filepath.Join(nix.Dir, "var", "nix", "gcroots", "nixbp")
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return err
		}
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if !valid(t, nix, target) {
			t.Errorf("root %s points to %s, which is not in the store", p, target)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func rootNames(u storegc.Usage) []string {
	var names []string
	for _, r := range u.Roots {
		names = append(names, r.Name)
	}
	return names
}

// TestCollectKeepsWhatTheNextBuildNeeds builds three versions of the app,
// collecting after each, and checks what stays: Nix, the current output and
// its build-time closure, the previous output; an unchanged rebuild builds
// nothing and a change to the app rebuilds only the app.
func TestCollectKeepsWhatTheNextBuildNeeds(t *testing.T) {
	nix, app := newStore(t)
	junk := addGarbage(t, nix, app, 20)

	out1, built := build(t, nix, app, "1")
	if len(built) != 3 {
		t.Fatalf("first build built %v, want dep, lib and app-1", built)
	}
	rep1 := collect(t, nix, out1, storegc.Options{})
	dep := named(t, nix, "-dep")
	if len(dep) != 1 {
		t.Fatalf("store holds dep outputs %v after the first collection, want one", dep)
	}
	for _, p := range []string{out1, deriver(t, nix, out1), dep[0], nix.StorePath} {
		if !valid(t, nix, p) {
			t.Errorf("first collection removed %s", p)
		}
	}
	for _, p := range junk {
		if valid(t, nix, p) {
			t.Errorf("first collection kept the garbage %s", p)
		}
	}
	if got := rootNames(rep1.Kept); !slices.Equal(got, []string{"nix", "output", "build"}) {
		t.Errorf("roots after the first build = %v", got)
	}

	out2, built := build(t, nix, app, "2")
	if len(built) != 1 || !strings.HasSuffix(built[0], "-app-2.drv") {
		t.Errorf("a change to the app built %v, want only app-2 (its build inputs kept)", built)
	}
	rep2 := collect(t, nix, out2, storegc.Options{})
	drv1 := deriver(t, nix, out1)
	if !valid(t, nix, out1) {
		t.Errorf("second collection removed the previous output %s", out1)
	}
	if got := rootNames(rep2.Kept); !slices.Equal(got, []string{"nix", "output", "build", "previous"}) {
		t.Errorf("roots after the second build = %v", got)
	}

	out3, _ := build(t, nix, app, "3")
	rep3 := collect(t, nix, out3, storegc.Options{})
	if valid(t, nix, out1) || valid(t, nix, drv1) {
		t.Errorf("third collection kept the output of two builds ago %s or its derivation %s", out1, drv1)
	}
	if buildLog(nix, drv1) || !buildLog(nix, deriver(t, nix, out3)) {
		t.Errorf("after the third collection: build log of %s kept %v, of the current build kept %v", drv1, buildLog(nix, drv1), buildLog(nix, deriver(t, nix, out3)))
	}
	if !valid(t, nix, out2) || !valid(t, nix, dep[0]) {
		t.Errorf("third collection removed the previous output %s or the build input %s", out2, dep[0])
	}
	if rep3.After != rep2.After || rep3.PathsAfter != rep2.PathsAfter {
		t.Errorf("store after build 3 = %d bytes in %d paths, after build 2 = %d in %d: not flat",
			rep3.After, rep3.PathsAfter, rep2.After, rep2.PathsAfter)
	}

	again, built := build(t, nix, app, "3")
	if again != out3 || len(built) != 0 {
		t.Errorf("unchanged rebuild gave %s and built %v, want %s and nothing", again, built, out3)
	}
	collect(t, nix, again, storegc.Options{})
	if !valid(t, nix, out2) {
		t.Errorf("collection after an unchanged rebuild dropped the previous output %s", out2)
	}
}

// TestMaxSizeDropsTheLeastValuableRootsFirst bounds the store below what
// the roots keep: the previous output goes first, then the build inputs;
// Nix and the output's runtime closure stay whatever the bound.
func TestMaxSizeDropsTheLeastValuableRootsFirst(t *testing.T) {
	nix, app := newStore(t)
	out1, _ := build(t, nix, app, "1")
	collect(t, nix, out1, storegc.Options{})
	out2, _ := build(t, nix, app, "2")
	full := collect(t, nix, out2, storegc.Options{})
	size := map[string]int64{}
	for _, r := range full.Kept.Roots {
		size[r.Name] = r.Bytes
	}
	if size["build"] < 3<<20 || size["previous"] < 1<<20 {
		t.Fatalf("root sizes %v: want build >= 3 MiB (dep) and previous >= 1 MiB", size)
	}

	// Room for all but the previous output.
	out3, _ := build(t, nix, app, "3")
	rep := collect(t, nix, out3, storegc.Options{MaxSize: size["nix"] + size["output"] + size["build"] + size["previous"]/2})
	if len(rep.Dropped) != 1 || rep.Dropped[0].Name != "previous" || rep.OverBound || valid(t, nix, out2) {
		t.Errorf("bound below the previous output: dropped %v, over %v, %s still valid: %v", rep.Dropped, rep.OverBound, out2, valid(t, nix, out2))
	}
	if len(named(t, nix, "-dep")) != 1 || rep.After > rep.MaxSize {
		t.Errorf("bound below the previous output: dep %v, store %d > max %d", named(t, nix, "-dep"), rep.After, rep.MaxSize)
	}
	if !strings.Contains(strings.Join(rep.Lines(), "\n"), "Dropped previous output") {
		t.Errorf("log does not say the previous output was dropped: %q", rep.Lines())
	}

	// Room for Nix and the output only: the build inputs go too, and the
	// next change rebuilds them.
	out4, _ := build(t, nix, app, "4")
	rep = collect(t, nix, out4, storegc.Options{MaxSize: size["nix"] + size["output"] + size["build"]/2})
	if got := rootNames(storegc.Usage{Roots: rep.Dropped}); !slices.Equal(got, []string{"previous", "build"}) || rep.OverBound {
		t.Errorf("bound below the build inputs: dropped %v, over %v", got, rep.OverBound)
	}
	if len(named(t, nix, "-dep")) != 0 || !valid(t, nix, out4) || !valid(t, nix, nix.StorePath) {
		t.Errorf("bound below the build inputs: dep %v kept, or output/Nix removed", named(t, nix, "-dep"))
	}
	if _, built := build(t, nix, app, "5"); len(built) != 2 {
		t.Errorf("after dropping the build inputs, a change built %v, want dep and app-5", built)
	}

	// A bound below Nix and the output: they stay, with a warning.
	out5, _ := build(t, nix, app, "5")
	rep = collect(t, nix, out5, storegc.Options{MaxSize: 1})
	if !rep.OverBound || !valid(t, nix, out5) || !valid(t, nix, nix.StorePath) || !strings.Contains(rep.Lines()[len(rep.Lines())-1], "raise BP_NIX_CACHE_MAX_SIZE") {
		t.Errorf("bound of 1 byte: over %v, lines %q", rep.OverBound, rep.Lines())
	}
}

// TestRootsSurviveAMove moves the store directory, as a platform restoring
// a cache layer at another path does: the roots still hold.
func TestRootsSurviveAMove(t *testing.T) {
	nix, app := newStore(t)
	out1, _ := build(t, nix, app, "1")
	collect(t, nix, out1, storegc.Options{})
	moved := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Rename(nix.Dir, moved); err != nil {
		t.Fatal(err)
	}
	nix2, err := nixinstall.Ensure(moved, source(testTarball(t)), nix.View.Strategy, nixinstall.Conf{})
	if err != nil || !nix2.Reused {
		t.Fatalf("Ensure after the move = %+v, %v", nix2, err)
	}
	addGarbage(t, nix2, app, 3)
	out, err := nix2.Command("nix-store", "--gc").CombinedOutput()
	if err != nil {
		t.Fatalf("nix-store --gc: %v\n%s", err, out)
	}
	for _, p := range []string{out1, deriver(t, nix2, out1), nix2.StorePath} {
		if !valid(t, nix2, p) {
			t.Errorf("a plain nix-store --gc after the move removed %s", p)
		}
	}
	if again, built := build(t, nix2, app, "1"); again != out1 || len(built) != 0 {
		t.Errorf("rebuild after the move gave %s, built %v", again, built)
	}
}

// buildLog says whether Nix's build log of drv is in the store's var/log.
func buildLog(nix nixinstall.Nix, drv string) bool {
	base := filepath.Base(drv)
	_, err := os.Stat(filepath.Join(nix.Dir, "var", "log", "nix", "drvs", base[:2], base[2:]+".bz2"))
	return err == nil
}
