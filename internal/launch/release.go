package launch

import (
	"fmt"
	"os"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// releasePhaseless reports whether the platform has no release phase to
// run the Procfile's release process type: Cloud Foundry and Kf, which set
// VCAP_APPLICATION in every app instance.
func releasePhaseless() bool {
	_, cf := os.LookupEnv("VCAP_APPLICATION")
	return cf
}

// releaseToRun is the release task this launch runs before its worker, and
// a line for the log saying what became of it. The process type release
// (no worker) always runs it; a worker runs it unless NIXBP_RELEASE=skip or
// the platform's release phase runs it (--release-by-platform, outside
// Cloud Foundry and Kf).
func releaseToRun(inv Invocation, ls settings.LaunchSettings) ([]string, string) {
	if len(inv.Release) == 0 {
		return nil, ""
	}
	if inv.Static == "" && inv.Command == "" {
		return inv.Release, ""
	}
	switch {
	case ls.SkipRelease:
		return nil, fmt.Sprintf("release task not run (%s=skip): the platform runs the process type release", settings.LaunchReleaseName)
	case inv.ReleaseByPlatform && !releasePhaseless():
		return nil, "release task left to the platform's release phase (the Procfile's release process type)"
	case inv.ReleaseByPlatform:
		return inv.Release, "release task: Cloud Foundry and Kf have no release phase, so it runs before the worker"
	}
	return inv.Release, ""
}

// runRelease runs the release task's commands in order, each with POSIX
// shell semantics, and stops at the first that fails: its status is
// returned (0 when all succeeded), and the worker must not start.
func runRelease(cmds []string, underProot bool) int {
	for i, c := range cmds {
		fmt.Fprintf(os.Stderr, "nixbp-launch: release task [%d/%d]: %s\n", i+1, len(cmds), c)
		if status := interpret(c, underProot); status != 0 {
			fmt.Fprintf(os.Stderr, "nixbp-launch: release task [%d/%d] failed with status %d: %s\n"+
				"nixbp-launch: not starting the app: fix the command (hop3.toml [run] before-run or the Procfile's prerun/release) and deploy again\n",
				i+1, len(cmds), status, c)
			return status
		}
	}
	fmt.Fprintf(os.Stderr, "nixbp-launch: release task done (%s)\n", strings.Join(plural(len(cmds), "command"), " "))
	return 0
}

func plural(n int, word string) []string {
	if n == 1 {
		return []string{"1", word}
	}
	return []string{fmt.Sprint(n), word + "s"}
}
