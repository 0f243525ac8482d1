package storegc_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/storegc"
)

// TestKillDuringCollection kills `nix-store --gc` (as Collect runs it)
// with SIGKILL after it has deleted some of 600 garbage paths, at three
// points, and checks after each kill that the store is consistent (every
// valid path on disk, `nix-store --verify --check-contents` clean, every
// root pointing to a valid path) and that the next collection and build
// work.
func TestKillDuringCollection(t *testing.T) {
	nix, app := newStore(t)
	out1, _ := build(t, nix, app, "1")
	collect(t, nix, out1, storegc.Options{})
	const n = 600
	var all []string
	for _, after := range []int{1, n / 2, n - 20} {
		junk := addGarbage(t, nix, app, n)
		deleted := killGCAfter(t, nix, after)
		s, err := storegc.ReadStore(nix)
		if err != nil {
			t.Fatal(err)
		}
		left := 0
		for _, p := range junk {
			// A path the kill caught between its invalidation and its
			// deletion may stay on disk, invalid: the next collection
			// deletes it (checked below).
			if _, ok := s.Infos[p]; ok {
				left++
			}
		}
		all = append(all, junk...)
		t.Logf("killed nix-store --gc after %d deletions were announced: %d of %d garbage paths left", deleted, left, n)
		if left == 0 || left == n {
			t.Errorf("the kill after %d deletions left %d of %d garbage paths: not in the middle of the collection", after, left, n)
		}
		checkConsistent(t, nix)
	}
	rep := collect(t, nix, out1, storegc.Options{})
	if rep.PathsAfter != 9-1 { // Nix, out1, lib, dep, app-1.drv, dep.drv, lib.drv, bb
		t.Errorf("collection after the kills left %d paths, want 8", rep.PathsAfter)
	}
	for _, p := range all {
		if _, err := os.Lstat(filepath.Join(nix.Dir, "store", filepath.Base(p))); err == nil {
			t.Errorf("collection after the kills left the garbage %s on disk", p)
		}
	}
	if out2, built := build(t, nix, app, "2"); len(built) != 1 || !valid(t, nix, out2) {
		t.Errorf("the build after the kills built %v", built)
	}
}

// killGCAfter runs Nix's collector as Collect does and SIGKILLs its whole
// process group once it has announced `after` deletions.
func killGCAfter(t *testing.T, nix nixinstall.Nix, after int) int {
	t.Helper()
	cmd := nix.Command("nix-store", "--gc", "--option", "keep-outputs", "false", "--option", "keep-derivations", "false")
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := 0
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "deleting '/nix/store/") {
			if seen++; seen == after {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				break
			}
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("nix-store --gc ended before the kill (after %d deletions): %v", seen, err)
	}
	return seen
}

// checkConsistent fails unless every valid path is on disk, Nix's own
// verification finds nothing wrong and every root points to a valid path.
func checkConsistent(t *testing.T, nix nixinstall.Nix) {
	t.Helper()
	s, err := storegc.ReadStore(nix)
	if err != nil {
		t.Fatal(err)
	}
	for p := range s.Infos {
		if _, err := os.Lstat(filepath.Join(nix.Dir, "store", filepath.Base(p))); err != nil {
			t.Errorf("registered path %s is missing on disk: %v", p, err)
		}
	}
	// Without --repair, verify reports (and forgets) a valid path missing
	// on disk, and reports a path whose contents changed: checked above for
	// the first, by its output and status for the second.
	out, err := nix.Command("nix-store", "--verify", "--check-contents").CombinedOutput()
	if err != nil || strings.Contains(string(out), "disappeared") || strings.Contains(string(out), "modified") {
		t.Errorf("nix-store --verify --check-contents: %v\n%s", err, out)
	}
	checkRoots(t, nix)
	if problems, err := storegc.Verify(nix); err != nil || len(problems) > 0 {
		t.Errorf("storegc.Verify = %q, %v", problems, err)
	}
}

// TestVerifyFindsProblems breaks a store the two ways a collection must
// never leave it: a registered path missing on disk, a root pointing to a
// path that is not in the store.
func TestVerifyFindsProblems(t *testing.T) {
	nix, app := newStore(t)
	out1, _ := build(t, nix, app, "1")
	collect(t, nix, out1, storegc.Options{})
	if problems, err := storegc.Verify(nix); err != nil || len(problems) > 0 {
		t.Fatalf("Verify of a sound store = %q, %v", problems, err)
	}
	lib := named(t, nix, "-lib")[0]
	if err := os.RemoveAll(filepath.Join(nix.Dir, "store", filepath.Base(lib))); err != nil {
		t.Fatal(err)
	}
	gone := "/nix/store/00000000000000000000000000000000-gone"
	if err := os.Symlink(gone, filepath.Join(nix.Dir, "var", "nix", "gcroots", "nixbp", "extra")); err != nil {
		t.Fatal(err)
	}
	problems, err := storegc.Verify(nix)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(problems, "\n")
	for _, want := range []string{lib + " is registered but missing on disk", "points to " + gone + ", which is not a valid store path"} {
		if !strings.Contains(text, want) {
			t.Errorf("Verify found %q, want %q among them", problems, want)
		}
	}
}
