package exclude

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// exampleRules is the .slugexclude of the old Nix buildpacks' documentation.
const exampleRules = `+ store/**/
+ store/*-user-environment/**
+ store/*-nix-1*/**
+ *[._]so*
+ store/*my-awesome-app*/**
- store/**
`

// tempDir is a temporary directory whose read-only subdirectories are
// made writable for its removal.
func tempDir(t testing.TB) string {
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

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// runAll runs cases n at a time and reports the first failures.
func runAll(t *testing.T, n int, cases []func() error) {
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
