package prune

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestRsyncDirTimeQuirk pins where Copy deliberately differs from rsync:
// rsync compares a directory's time with --modify-window=0, whole seconds, so
// a destination directory whose time is in the same second as the source's
// keeps its own nanoseconds (a directory created in the second the source was
// last changed keeps its creation time). Symlinks are treated the same way.
// Copy always sets the exact time.
func TestRsyncDirTimeQuirk(t *testing.T) {
	rsync := testenv.Require(t, "rsync")
	tmp := tempDir(t)
	src, viaRsync, viaCopy := filepath.Join(tmp, "src"), filepath.Join(tmp, "rsync"), filepath.Join(tmp, "copy")
	rules := filepath.Join(tmp, "rules")
	must(t, os.WriteFile(rules, nil, 0o644))
	srcTime := time.Date(2001, 1, 1, 0, 0, 0, 100, time.UTC)
	dstTime := srcTime.Add(800 * time.Millisecond)
	for _, d := range []string{src, viaRsync, viaCopy} {
		must(t, os.MkdirAll(filepath.Join(d, "d"), 0o755))
		must(t, lutimes(filepath.Join(d, "d"), dstTime))
	}
	must(t, lutimes(filepath.Join(src, "d"), srcTime))
	must(t, rsyncCopy(rsync, rules, src, viaRsync, false))
	if _, err := Copy(src, viaCopy, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	mtime := func(p string) time.Time {
		fi, err := os.Stat(p)
		must(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		return time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC()
	}
	if got := mtime(filepath.Join(viaRsync, "d")); !got.Equal(dstTime) {
		t.Errorf("rsync set the directory time to %v; the quirk is gone, Copy and its doc can follow rsync", got)
	}
	if got := mtime(filepath.Join(viaCopy, "d")); !got.Equal(srcTime) {
		t.Errorf("Copy set the directory time to %v, want %v", got, srcTime)
	}
}

// TestCopyIntoExistingDestination checks that Copy merges into a DST that
// has entries, replacing files and symlinks of the same name, like rsync.
func TestCopyIntoExistingDestination(t *testing.T) {
	tmp := tempDir(t)
	src, dst := filepath.Join(tmp, "src"), filepath.Join(tmp, "dst")
	must(t, os.MkdirAll(filepath.Join(src, "d"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "d/f"), []byte("new"), 0o644))
	must(t, os.Symlink("new", filepath.Join(src, "l")))
	must(t, os.WriteFile(filepath.Join(src, "x"), []byte("file"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dst, "d"), 0o755))
	must(t, os.WriteFile(filepath.Join(dst, "d/f"), []byte("old"), 0o444))
	must(t, os.Symlink("old", filepath.Join(dst, "l")))
	must(t, os.WriteFile(filepath.Join(dst, "keep"), []byte("mine"), 0o644))
	must(t, os.Mkdir(filepath.Join(dst, "x"), 0o755)) // an empty directory where a file goes
	for _, link := range []bool{false, true} {
		if _, err := Copy(src, dst, nil, Options{Link: link}); err != nil {
			t.Fatal(err)
		}
		for p, want := range map[string]string{"d/f": "new", "x": "file", "keep": "mine"} {
			if data, err := os.ReadFile(filepath.Join(dst, p)); err != nil || string(data) != want {
				t.Errorf("link=%v: %s = %q, %v; want %q", link, p, data, err, want)
			}
		}
		if target, err := os.Readlink(filepath.Join(dst, "l")); err != nil || target != "new" {
			t.Errorf("link=%v: l -> %q, %v", link, target, err)
		}
	}
}

// TestCopyErrors checks that failures name what failed.
func TestCopyErrors(t *testing.T) {
	tmp := tempDir(t)
	if _, err := Copy(filepath.Join(tmp, "missing"), filepath.Join(tmp, "dst"), nil, Options{}); err == nil || !strings.Contains(err.Error(), "unable to read source") {
		t.Errorf("missing source: %v", err)
	}
	file := filepath.Join(tmp, "file")
	must(t, os.WriteFile(file, nil, 0o644))
	if _, err := Copy(file, filepath.Join(tmp, "dst"), nil, Options{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file source: %v", err)
	}
	src := filepath.Join(tmp, "src")
	must(t, os.MkdirAll(filepath.Join(src, "store/a"), 0o755))
	for _, sel := range [][]string{{"/abs"}, {"../x"}, {""}, {"."}} {
		if _, err := Plan(src, nil, Options{Selected: sel}); err == nil {
			t.Errorf("selection %q accepted", sel)
		}
	}
	if _, err := Plan(src, nil, Options{Selected: []string{"store/b"}}); err == nil || !strings.Contains(err.Error(), "store/b: it is not in the source") {
		t.Errorf("missing selected path: %v", err)
	}
	if _, err := Copy(src, file+"/dst", nil, Options{}); err == nil || !strings.Contains(err.Error(), "unable to create destination") {
		t.Errorf("destination under a file: %v", err)
	}
}

// TestSelection checks Options.Selected: only the selected paths and their
// parents exist, and rules still apply to the parents.
func TestSelection(t *testing.T) {
	src := makeStore(t)
	rep, err := Plan(src, parse(t, "- *.h\n"), Options{Selected: []string{hApp, hLibfoo + "/lib", hApp + "/bin"}})
	must(t, err)
	want := []string{"store", hApp, hApp + "/bin", hApp + "/bin/web", hApp + "/share", hApp + "/share/doc", hApp + "/share/doc/README",
		hLibfoo, hLibfoo + "/lib", hLibfoo + "/lib/libfoo.a"}
	if got := rep.KeptPaths(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("kept:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// An excluded parent hides the selection below it, which is no error.
	rep, err = Plan(src, parse(t, "- /store\n"), Options{Selected: []string{hApp}})
	must(t, err)
	if len(rep.Kept) != 0 {
		t.Errorf("kept %v under an excluded parent", rep.KeptPaths())
	}
	if _, err := Plan(src, nil, Options{Selected: []string{hApp + "/bin/web/x"}}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("selection below a file: %v", err)
	}
}

// TestLinkFallsBackToCopyAcrossFilesystems links from /dev/shm (tmpfs) into
// the test's temporary directory: link(2) fails with EXDEV, and Copy copies.
func TestLinkFallsBackToCopyAcrossFilesystems(t *testing.T) {
	shm, err := os.MkdirTemp("/dev/shm", "slug-test-")
	if err != nil {
		testenv.Missing(t, "no /dev/shm to link across filesystems from: "+err.Error())
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	dst := filepath.Join(tempDir(t), "dst")
	var a, b syscall.Stat_t
	must(t, syscall.Stat(shm, &a))
	must(t, syscall.Stat(filepath.Dir(dst), &b))
	if a.Dev == b.Dev {
		testenv.Missing(t, "/dev/shm and the temporary directory share a filesystem, so no cross-filesystem link can be tried")
	}
	must(t, os.MkdirAll(filepath.Join(shm, "d"), 0o755))
	must(t, os.WriteFile(filepath.Join(shm, "d/f"), []byte("data"), 0o640))
	must(t, os.Symlink("f", filepath.Join(shm, "d/l")))
	rep, err := Copy(shm, dst, nil, Options{Link: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Linked != 0 || rep.Copied != 2 || rep.Bytes != 4 {
		t.Errorf("linked %d, copied %d (%d bytes); want 0, 2 (4 bytes)", rep.Linked, rep.Copied, rep.Bytes)
	}
	want, err := snapshot(shm)
	must(t, err)
	got, err := snapshot(dst)
	must(t, err)
	if d := diffSnapshots(want, got); d != "" {
		t.Errorf("copy differs from the source:\n%s", d)
	}
}
