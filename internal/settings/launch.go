package settings

import (
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
)

// LaunchSettings is what nixbp-launch reads when the app starts.
type LaunchSettings struct {
	// Strategy is the /nix strategy at run time.
	Strategy nixmount.Strategy
	// Quiet keeps the launcher from logging the strategy it took.
	Quiet bool
	// SkipRelease keeps the launcher from running the release task before
	// the worker (NIXBP_RELEASE=skip).
	SkipRelease bool
}

// RelocateStrategy runs a closure the build relocated out of /nix/store
// (internal/relocate), natively; only the launcher knows it.
const RelocateStrategy nixmount.Strategy = "relocate"

// ParseLaunch reads the launcher's settings from src.
func ParseLaunch(src Vars) (LaunchSettings, error) {
	r := reader{src: src}
	l := LaunchSettings{Quiet: r.bool(LaunchQuietName)}
	v := r.value(LaunchStrategyName)
	if nixmount.Strategy(strings.ToLower(strings.TrimSpace(v.text))) == RelocateStrategy {
		l.Strategy = RelocateStrategy
	} else {
		l.Strategy = r.strategy(LaunchStrategyName)
	}
	switch v := r.value(LaunchReleaseName); strings.ToLower(strings.TrimSpace(v.text)) {
	case "auto":
	case "skip":
		l.SkipRelease = true
	default:
		r.fail(LaunchReleaseName, v, "expected auto or skip", "")
	}
	return l, r.err
}
