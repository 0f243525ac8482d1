// Package profiled writes the slug's .profile.d script: the shell code a
// Heroku-style platform sources, in the app root, before it runs any process
// of the app (web, worker, one-off). It shows the slug's Nix store to the
// processes and sets the app's runtime environment.
//
// Every value written into the script is data, never code: it is single
// quoted, whatever runtime.json or hop3.toml holds. Names and PATH entries
// are checked here too, whatever their parser already checked.
package profiled

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/process"
)

// Header opens every script this package writes, so that a later compile
// can tell its own script from one the app brought.
const Header = "# Written by nix-buildpack (bin/compile)"

// Slug is what the script sets up.
type Slug struct {
	// NixDirVar names the variable holding the slug's Nix directory at
	// run time (set to $PWD/NixDir unless the platform set it).
	NixDirVar string
	// NixDir is that directory relative to the app root, e.g. ".nix".
	NixDir string
	// Path entries (runtime.json path) come first on PATH, in order, then
	// $NixDirVar/bin. Each must be an absolute directory.
	Path []string
	// Env is the launch environment: a process.Override variable is
	// exported whatever the platform set; a process.Default one only when
	// the platform's config vars leave it unset. PATH and NixDirVar are
	// left out: the script sets them itself.
	Env []process.Var
	// Guard, when set, is a shell command (code, written as it is) that
	// must succeed before any Path entry or Env variable is set, such as
	// the launcher making the /tmp link a relocated closure's paths go
	// through. When it fails, the shell gets none of them, and GuardFailed
	// (text) on stderr, after what the command itself printed.
	Guard, GuardFailed string
}

// nameRE is a POSIX shell variable name.
var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Script is the .profile.d script for s, or an error naming the variable or
// PATH entry that cannot be written safely.
func Script(s Slug) (string, error) {
	if !nameRE.MatchString(s.NixDirVar) {
		return "", fmt.Errorf("%q is not a shell variable name", s.NixDirVar)
	}
	var b strings.Builder
	b.WriteString(Header + ": the app's Nix store and runtime environment.\n")
	b.WriteString("# Platforms source .profile.d in the app root, where compile put " + s.NixDir + ".\n")
	fmt.Fprintf(&b, "if [ -z \"${%s:-}\" ]; then %s=\"$PWD\"/%s; fi\n", s.NixDirVar, s.NixDirVar, quote(s.NixDir))
	fmt.Fprintf(&b, "export %s\n", s.NixDirVar)
	path := ""
	for i, p := range s.Path {
		if err := checkPathEntry(p); err != nil {
			return "", fmt.Errorf("runtime.json path[%d] = %q %w", i, p, err)
		}
		path += quote(p) + ":"
	}
	indent := ""
	if s.Guard != "" {
		fmt.Fprintf(&b, "if %s; then\n", s.Guard)
		indent = "  "
	}
	fmt.Fprintf(&b, "%sexport PATH=%s\"$%s/bin:$PATH\"\n", indent, path, s.NixDirVar)
	for _, v := range s.Env {
		if err := checkVar(v); err != nil {
			return "", err
		}
		if v.Name == "PATH" || v.Name == s.NixDirVar {
			continue
		}
		if v.Precedence == process.Override {
			fmt.Fprintf(&b, "%sexport %s=%s\n", indent, v.Name, quote(v.Value))
		} else {
			fmt.Fprintf(&b, "%sif [ -z \"${%s+x}\" ]; then export %s=%s; fi\n", indent, v.Name, v.Name, quote(v.Value))
		}
	}
	if s.Guard != "" {
		fmt.Fprintf(&b, "else\n  printf '%%s\\n' %s >&2\nfi\n", quote(s.GuardFailed))
	}
	return b.String(), nil
}

// checkPathEntry accepts an absolute directory that PATH can hold.
func checkPathEntry(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("is not an absolute directory\nPATH entries must be absolute, e.g. \"/nix/store/...-app/bin\" (write \"$out/bin\" in the build so Nix expands it)")
	case strings.ContainsRune(p, ':'):
		return fmt.Errorf("holds a ':', which PATH reads as a separator\nlist each directory as its own entry")
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("holds a NUL byte, which no environment can carry")
	}
	return nil
}

// checkVar accepts a variable whose name the shell takes and whose value
// the environment can carry.
func checkVar(v process.Var) error {
	from := v.Source
	if from == "" {
		from = "env"
	}
	if !nameRE.MatchString(v.Name) {
		return fmt.Errorf("%s: %q is not an environment variable name\n"+
			"names are letters, digits and _, not starting with a digit; rename it", from, v.Name)
	}
	if strings.ContainsRune(v.Value, 0) {
		return fmt.Errorf("%s: the value of %s holds a NUL byte, which no environment can carry", from, v.Name)
	}
	return nil
}

// quote makes s one word of literal text for a POSIX shell: inside single
// quotes nothing is special, and a single quote of s is written as a closing
// quote, an escaped quote and an opening quote.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
