package testenv

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// DescribeTree describes every entry under root, one line each: its path
// below root, mode, mtime, and a symlink's target or a file's size and
// SHA-256, so that two trees (an unpacked NAR, a restored store path) can be
// compared whole.
func DescribeTree(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		line := strings.TrimPrefix(p, root) + " " + fi.Mode().String() + " mtime=" + strconv.FormatInt(st.Mtim.Sec, 10)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case fi.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			line += fmt.Sprintf(" %d bytes sha256 %x", len(data), sha256.Sum256(data))
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TempDir is t.TempDir, made removable when the test leaves read-only
// directories in it (as a copied Nix store has) and does not run as root.
func TempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o700)
			}
			return nil
		})
	})
	return dir
}

// RunAll runs cases n at a time and reports the first five failures (and
// how many more), for differential tests of thousands of cases.
func RunAll(t *testing.T, n int, cases []func() error) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, n)
	errs := make([]error, len(cases))
	for i, c := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = c()
		}()
	}
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err != nil {
			if failed++; failed <= 5 {
				t.Error(err)
			}
		}
	}
	if failed > 5 {
		t.Errorf("... and %d more failures", failed-5)
	}
}
