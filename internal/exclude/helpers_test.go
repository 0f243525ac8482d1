package exclude

import (
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// exampleRules is the .slugexclude of the old Nix buildpacks' documentation.
const exampleRules = `+ store/**/
+ store/*-user-environment/**
+ store/*-nix-1*/**
+ *[._]so*
+ store/*my-awesome-app*/**
- store/**
`

// tempDir is testenv.TempDir.
func tempDir(t testing.TB) string { t.Helper(); return testenv.TempDir(t) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func runAll(t *testing.T, n int, cases []func() error) { testenv.RunAll(t, n, cases) }
