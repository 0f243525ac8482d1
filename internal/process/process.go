// Package process turns an app's runtime description into the processes a
// platform starts: each runs the launcher with the app's store directory and
// the worker's command line (or static directory).
package process

import (
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
)

// Process is one process type: the launcher, showing the store at /nix,
// then a worker's command line or a directory served over HTTP.
type Process struct {
	// Type is the process type (web, worker, ...).
	Type string
	// Launcher is the launcher binary as the platform sees it at run time.
	Launcher string
	// NixDir is the directory holding store/ at run time.
	NixDir string
	// Static is the directory the launcher serves, when the process is a
	// static site; Line is empty then.
	Static string
	// Line is the worker's POSIX shell command line, expanded at launch.
	Line string
	// Default is true for web, or the only process.
	Default bool
}

// Args are the launcher's arguments.
func (p Process) Args() []string {
	args := []string{"--nix-dir", p.NixDir}
	return append(args, p.WorkerArgs()...)
}

// WorkerArgs are the arguments saying what the launcher runs:
// --static DIR, or -- LINE.
func (p Process) WorkerArgs() []string {
	if p.Static != "" {
		return []string{"--static", p.Static}
	}
	return []string{"--", p.Line}
}

// Argv is the whole command: the launcher and its arguments.
func (p Process) Argv() []string { return append([]string{p.Launcher}, p.Args()...) }

// Display is what the process runs, for the build log: the command line,
// or "static site <dir>".
func (p Process) Display() string {
	if p.Static != "" {
		return "static site " + p.Static
	}
	return p.Line
}

// CommandLine is the process as one shell command line (for Procfiles).
func (p Process) CommandLine() string { return ShellJoin(p.Argv()) }

// Launcher says how processes start the launcher.
type Launcher struct {
	// Path is the launcher binary as the platform sees it at run time.
	Path string
	// NixDir is the directory holding store/ at run time.
	NixDir string
}

// FromRuntime makes one process per worker, web first.
func FromRuntime(rt runtimejson.Runtime, l Launcher) []Process {
	var procs []Process
	for _, t := range rt.Types() {
		w := rt.Workers[t]
		procs = append(procs, Process{Type: t, Launcher: l.Path, NixDir: l.NixDir, Static: w.Static, Line: w.Command,
			Default: t == "web" || len(rt.Workers) == 1})
	}
	return procs
}

// ShellQuote quotes s for a POSIX shell (Procfile lines run in bash).
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellJoin quotes each word for a POSIX shell and joins them with spaces.
func ShellJoin(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = ShellQuote(w)
	}
	return strings.Join(quoted, " ")
}
