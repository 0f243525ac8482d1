package nixgen

import (
	"regexp"
	"strings"
)

// Text for Nix. Hop3 writes user values into a Nix indented string ('' ... '')
// either "escaped" (shell text: ${VAR} reaches the shell) or "raw" (Nix
// interpolates ${binding} at build time), and into "..." strings raw.

// shell makes shell text literal inside an indented string: ${ becomes
// ”${ as in Hop3, and ” becomes ”' (which Hop3 leaves as is, ending the
// string early).
func shell(s string) string {
	s = strings.ReplaceAll(s, "''", "'''")
	return strings.ReplaceAll(s, "${", "''${")
}

// quote is a Nix "..." string holding s literally.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// quoteRaw is a Nix "..." string in which ${...} still interpolates, as Hop3
// writes url, extra paths and runtime env; only " and \ are escaped (where
// Hop3's expression would not parse).
func quoteRaw(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// jsonRaw is a JSON string written through an unquoted heredoc inside an
// indented string, as Hop3 writes runtime.json: ${...} interpolates (Nix),
// $VAR and $(...) expand (the builder's shell). A " is escaped so that the
// JSON stays valid where Hop3's would not.
func jsonRaw(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// nixList is a Nix list of raw strings.
func nixList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = quoteRaw(s)
	}
	return "[ " + strings.Join(q, " ") + " ]"
}

// attrName is a Nix attribute name: as is when it is an identifier,
// quoted otherwise.
func attrName(s string) string {
	if identRE.MatchString(s) {
		return s
	}
	return quote(s)
}

// binding is Hop3's let-binding name for the app: pname with '-' as '_'.
func binding(pname string) string { return strings.ReplaceAll(pname, "-", "_") }

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_'-]*$`)
