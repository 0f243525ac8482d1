// Package settings is the one place where what a user sets is read: every
// setting of the build (BP_NIX_*, with the old Heroku Nix buildpacks' NIX_*
// names as aliases), of the launcher (NIXBP_*) and of the nixbp CLI, with its
// default, its description and its parser. Both front-ends and the CLI read
// through it, so the same value means the same thing everywhere and a bad
// value is the same named error everywhere. buildpack.toml declares the same
// settings (a test checks that they agree).
package settings

import (
	"strings"
)

// Phase says when a setting is read.
type Phase int

// The phases a setting belongs to.
const (
	// Build settings are read by the build (CNB build, Heroku compile) and
	// the CLI.
	Build Phase = iota
	// Launch settings are read by nixbp-launch when the app runs.
	Launch
)

// Setting is one value a user may set.
type Setting struct {
	// Name is the variable's name.
	Name string
	// Aliases are older names read when Name is unset (the earlier Heroku
	// Nix buildpacks' variables); set together with Name they must agree.
	Aliases []string
	// Default is the value when neither Name nor an alias is set.
	Default string
	// Description says what it does, as buildpack.toml declares it.
	Description string
	// Phase is when it is read.
	Phase Phase
	// Secret settings are never printed.
	Secret bool
	// URLs settings hold binary cache URLs, printed without credentials.
	URLs bool
	// External settings belong to another tool (the AWS SDK's variables):
	// read, never declared in buildpack.toml.
	External bool
}

// Vars looks a variable up: the process environment and ENV_DIR for the
// Heroku-style front-end, libpak's ConfigurationResolver for CNB. ok is
// false when the variable is not set.
type Vars func(name string) (value string, ok bool)

// Env is a Vars over a map, for tests and callers that hold the values.
func Env(vars map[string]string) Vars {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// Names lists every setting's name and aliases: the variables the
// Heroku-style front-end takes from ENV_DIR.
func Names() []string {
	var names []string
	for _, s := range All {
		names = append(append(names, s.Name), s.Aliases...)
	}
	return names
}

// Lookup finds a setting by name or alias.
func Lookup(name string) (Setting, bool) {
	for _, s := range All {
		if s.Name == name {
			return s, true
		}
		for _, a := range s.Aliases {
			if a == name {
				return s, true
			}
		}
	}
	return Setting{}, false
}

// value is a setting's raw value and the variable it came from ("" for
// the default). Name and an alias that are both set must agree.
type value struct {
	text, from string
}

func (v value) set() bool { return v.from != "" }

// get reads the named setting from src.
func get(src Vars, name string) (value, error) {
	s, ok := Lookup(name)
	if !ok {
		panic("settings: undeclared setting " + name)
	}
	got := value{text: s.Default}
	if v, ok := src(s.Name); ok {
		got = value{text: v, from: s.Name}
	}
	for _, a := range s.Aliases {
		v, ok := src(a)
		if !ok {
			continue
		}
		if !got.set() {
			got = value{text: v, from: a}
			continue
		}
		if strings.TrimSpace(v) != strings.TrimSpace(got.text) && !strings.EqualFold(strings.TrimSpace(v), strings.TrimSpace(got.text)) {
			return got, &Error{Name: got.from, Value: got.text, Secret: s.Secret,
				Problem: "disagrees with " + a + "=" + quote(shown(s, v)),
				Fix:     "set only one of them (" + a + " is the older name of " + s.Name + ")"}
		}
	}
	return got, nil
}

// Error is a bad setting: the variable, its value (hidden for secrets),
// what was expected and what to do.
type Error struct {
	Name, Value string
	Secret      bool
	// Problem says what is wrong, Fix what to do.
	Problem, Fix string
}

func (e *Error) Error() string {
	v := e.Value
	if e.Secret {
		v = "(hidden)"
	}
	msg := e.Name + "=" + quote(v) + ": " + e.Problem
	if e.Fix != "" {
		msg += "\n" + e.Fix
	}
	return msg
}

func quote(s string) string {
	if s == "(hidden)" {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// shown is a value as it may appear in a log or an error.
func shown(s Setting, v string) string {
	switch {
	case s.Secret && v != "":
		return "(hidden)"
	case s.URLs:
		words := strings.Fields(v)
		for i, w := range words {
			words[i] = RedactURL(w)
		}
		return strings.Join(words, " ")
	}
	return v
}
