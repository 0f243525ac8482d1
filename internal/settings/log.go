package settings

import (
	"fmt"
	"io"
	"strings"
)

// Log writes the build settings a user set, one a line, secrets hidden and
// cache URLs without credentials, then how many are at their defaults. It
// replaces libpak's configuration table, which prints values as they are.
func Log(w io.Writer, src Vars) {
	defaults := 0
	fmt.Fprintln(w, "Settings:")
	for _, s := range All {
		if s.Phase != Build {
			continue
		}
		names := append([]string{s.Name}, s.Aliases...)
		set := false
		for _, n := range names {
			v, ok := src(n)
			if !ok {
				continue
			}
			set = true
			fmt.Fprintf(w, "  %s=%s\n", n, shown(s, v))
		}
		if !set && !s.External {
			defaults++
		}
	}
	fmt.Fprintf(w, "  (%d others at their defaults: %s)\n", defaults, strings.TrimSpace("see buildpack.toml or the README"))
}
