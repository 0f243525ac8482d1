package closure

import (
	"fmt"
	"strings"
)

// Policy says when the pipeline builds.
type Policy string

// The build policies.
const (
	// BuildMissing restores what the caches have and builds the rest.
	BuildMissing Policy = "missing"
	// BuildAlways builds without looking in the caches first.
	BuildAlways Policy = "always"
	// BuildNever restores from the caches or fails.
	BuildNever Policy = "never"
)

// ParsePolicy reads BP_NIX_BUILD_POLICY, or the old buildpacks'
// NIX_BUILD_ON_PUSH (0/false: never build on push; 1/true: build what is
// missing) when policy is empty.
func ParsePolicy(policy, buildOnPush string) (Policy, error) {
	switch p := Policy(strings.ToLower(strings.TrimSpace(policy))); p {
	case BuildMissing, BuildAlways, BuildNever:
		return p, nil
	case "":
	default:
		return "", fmt.Errorf("unknown build policy %q: expected missing, always or never", policy)
	}
	switch strings.ToLower(strings.TrimSpace(buildOnPush)) {
	case "", "1", "true", "yes":
		return BuildMissing, nil
	case "0", "false", "no":
		return BuildNever, nil
	}
	return "", fmt.Errorf("NIX_BUILD_ON_PUSH=%q: expected true or false (0 or 1)", buildOnPush)
}
