package main

import (
	"os"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
)

// TestMain runs the nixbp command itself when NIXBP_TEST_RUN_MAIN is set,
// so that tests can run (and kill) it as a real child process.
func TestMain(m *testing.M) {
	// The userns /nix view re-runs this binary as its namespace child.
	nixmount.MaybeRunChild()
	if os.Getenv("NIXBP_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
