package dirfd

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAgainstOS reads a directory holding each kind of entry through the
// descriptor calls and through package os, and wants the same answers.
func TestAgainstOS(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x/", 100) + "target" // longer than Readlink's first buffer
	must(t, os.WriteFile(filepath.Join(dir, "file"), []byte("data"), 0o640))
	must(t, os.Chmod(filepath.Join(dir, "file"), 0o4750))
	must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	must(t, os.Chmod(filepath.Join(dir, "sub"), 0o1777))
	must(t, os.Symlink(long, filepath.Join(dir, "link")))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))

	fd, err := Open(unix.AT_FDCWD, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	des, err := ReadDir(fd)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(des, func(a, b Dirent) int { return strings.Compare(a.Name, b.Name) })
	if len(des) != len(want) {
		t.Fatalf("ReadDir: %d entries, os.ReadDir %d", len(des), len(want))
	}
	for i, de := range des {
		fi, err := os.Lstat(filepath.Join(dir, de.Name))
		if err != nil {
			t.Fatal(err)
		}
		if de.Name != want[i].Name() {
			t.Errorf("entry %d is %q, os.ReadDir says %q", i, de.Name, want[i].Name())
		}
		if de.Type != unix.DT_UNKNOWN && (de.Type == unix.DT_DIR) != fi.IsDir() {
			t.Errorf("%s: type %d, but os.Lstat says %v", de.Name, de.Type, fi.Mode())
		}
		st, err := Lstat(fd, de.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got := Mode(st.Mode); got != fi.Mode() {
			t.Errorf("%s: Mode %v, os.Lstat %v", de.Name, got, fi.Mode())
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if got, err := Readlink(fd, de.Name, 1); err != nil || got != long {
				t.Errorf("Readlink(%s) = %q, %v; want the %d-byte target", de.Name, got, err, len(long))
			}
		}
	}
}

func TestSetMtimeAndRemove(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "file"), nil, 0o644))
	must(t, os.Symlink("file", filepath.Join(dir, "link")))
	must(t, os.Mkdir(filepath.Join(dir, "empty"), 0o755))
	fd, err := Open(unix.AT_FDCWD, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	when := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	must(t, SetMtime(fd, "link", syscall.NsecToTimespec(when.UnixNano()), true))
	if fi, _ := os.Lstat(filepath.Join(dir, "link")); !fi.ModTime().Equal(when) {
		t.Errorf("the symlink's mtime is %v, want %v", fi.ModTime(), when)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "file")); fi.ModTime().Equal(when) {
		t.Error("SetMtime with noFollow changed the symlink's target")
	}
	for _, name := range []string{"file", "empty"} {
		must(t, Remove(fd, name))
		if _, err := os.Lstat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("Remove(%s) left it: %v", name, err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
