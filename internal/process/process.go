// Package process turns an app's runtime description into the processes a
// platform starts: each runs the launcher with the app's store directory and
// the worker's command line (or static directory).
package process

import (
	"fmt"
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
	// Cron is the schedule of a cron process (Hop3's cron worker): the
	// launcher runs Line at each firing.
	Cron string
	// Release is the release task: the launcher runs it before the worker
	// of the default process, and alone in the process type release (which
	// has no Line or Static).
	Release []string
	// ReleaseByPlatform says the platform runs the process type release
	// itself before starting a new release (Heroku's and Dokku's release
	// phase): the default process runs Release only where the launcher sees
	// no such phase (Cloud Foundry, Kf).
	ReleaseByPlatform bool
	// Addons are the app's addons (TYPE or TYPE:NAME) whose services the
	// launcher maps into the variables Hop3 gives the app.
	Addons []string
}

// Args are the launcher's arguments.
func (p Process) Args() []string {
	args := []string{"--nix-dir", p.NixDir}
	return append(args, p.WorkerArgs()...)
}

// WorkerArgs are the arguments saying what the launcher runs: the addons
// it maps and the release task it runs first, then --static DIR, or
// [--cron SCHEDULE] -- LINE (nothing for the process type release).
func (p Process) WorkerArgs() []string {
	var args []string
	for _, a := range p.Addons {
		args = append(args, "--addon", a)
	}
	for _, c := range p.Release {
		args = append(args, "--release", c)
	}
	if len(p.Release) > 0 && p.ReleaseByPlatform && (p.Static != "" || p.Line != "") {
		args = append(args, "--release-by-platform")
	}
	switch {
	case p.Static != "":
		return append(args, "--static", p.Static)
	case p.Line == "":
		return args
	case p.Cron != "":
		args = append(args, "--cron", p.Cron)
	}
	return append(args, "--", p.Line)
}

// Argv is the whole command: the launcher and its arguments.
func (p Process) Argv() []string { return append([]string{p.Launcher}, p.Args()...) }

// Display is what the process runs, for the build log: the command line,
// or "static site <dir>".
func (p Process) Display() string {
	var s string
	switch {
	case p.Static != "":
		s = "static site " + p.Static
	case p.Line == "":
		return "release task: " + strings.Join(p.Release, " && ")
	case p.Cron != "":
		s = fmt.Sprintf("on the schedule %q: %s", p.Cron, p.Line)
	default:
		s = p.Line
	}
	if len(p.Release) > 0 {
		s += " (after the release task)"
	}
	return s
}

// CommandLine is the process as one shell command line (for Procfiles).
func (p Process) CommandLine() string { return ShellJoin(p.Argv()) }

// Launcher says how processes start the launcher.
type Launcher struct {
	// Path is the launcher binary as the platform sees it at run time.
	Path string
	// NixDir is the directory holding store/ at run time.
	NixDir string
	// ReleasePhase says the platform runs the process type release before
	// a new release starts (the Procfile's release: Heroku, Dokku).
	ReleasePhase bool
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
