// Package reproduce rebuilds a build's output from its derivation and
// compares the two (Nix's --check), as Hop3's ADR 058 asks of a release:
// reproducible, not deterministic (the rebuild differs, and both copies
// are kept to compare), or failed (the rebuild did not build).
package reproduce

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
)

// Verdict is what the rebuild showed.
type Verdict string

// The verdicts.
const (
	Reproducible     Verdict = "reproducible"
	NotDeterministic Verdict = "not deterministic"
	Failed           Verdict = "failed"
)

// Result is one check.
type Result struct {
	Verdict Verdict
	// Output and Derivation are what was rebuilt.
	Output, Derivation string
	// Detail is Nix's word on a difference or a failure (its last lines).
	Detail string
	// Sandboxed says whether the rebuild ran in Nix's sandbox.
	Sandboxed bool
}

// String is the report line.
func (r Result) String() string {
	s := fmt.Sprintf("%s: %s (rebuilt from %s", r.Verdict, r.Output, r.Derivation)
	if r.Sandboxed {
		s += " in Nix's sandbox)"
	} else {
		s += " without Nix's sandbox)"
	}
	if r.Detail != "" {
		s += "\n" + r.Detail
	}
	return s
}

// notDeterministic is Nix's exit status for a --check whose rebuild
// differs (100 + 4: "the build was not deterministic").
const notDeterministic = 104

// Check rebuilds output from its derivation with `nix-store --realise
// --check` and compares. The derivation and the build inputs must be in
// the store (a build keeps them; an output restored from a cache has none).
// Nix's own messages go to log. A differing rebuild is kept beside the
// output as <output>.check (--keep-failed), to compare with diffoscope.
func Check(nix nixinstall.Nix, output string, log io.Writer) (Result, error) {
	r := Result{Output: output, Sandboxed: nix.Sandbox.On}
	store := nix.Store()
	drv, err := store.Deriver(output)
	if err != nil || drv == "" {
		return r, fmt.Errorf("%s has no derivation in this store (restored from a cache, or not built here): nothing to rebuild it from\n"+
			"check a store where the app was built (BP_NIX_BUILD_POLICY=always)", output)
	}
	r.Derivation = drv
	if valid, err := store.Valid([]string{drv}); err != nil || !valid[drv] {
		return r, fmt.Errorf("the derivation %s of %s is not in this store (collected, or never built here)\n"+
			"build the app again here (BP_NIX_BUILD_POLICY=always) and check right after", drv, output)
	}
	extra := []string{"--check", "--keep-failed"}
	if nix.View.Strategy == nixmount.PRoot {
		// The build may have had the sandbox, proot cannot.
		extra = append(extra, "--option", "sandbox", "false")
		r.Sandboxed = false
	}
	var tail bytes.Buffer
	_, err = store.Realise([]string{drv}, extra, io.MultiWriter(log, &tail))
	var exit *exec.ExitError
	switch {
	case err == nil:
		r.Verdict = Reproducible
	case errors.As(err, &exit) && (exit.ExitCode() == notDeterministic || strings.Contains(tail.String(), "may not be deterministic")):
		r.Verdict, r.Detail = NotDeterministic, lastLines(tail.String(), 3)
	case errors.As(err, &exit):
		r.Verdict, r.Detail = Failed, lastLines(tail.String(), 5)
	default:
		return r, fmt.Errorf("unable to run nix-store --realise --check %s\n%w", drv, err)
	}
	return r, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
