// Package process turns an app's runtime description into the processes a
// platform starts: each runs the launcher with the app's store directory and
// the worker's command line (or static directory).
package process

import (
	"sort"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
)

// Process is one process type.
type Process struct {
	// Type is the process type (web, worker, ...).
	Type string
	// Command is the launcher and its arguments.
	Command []string
	// Default is true for web, or the only process.
	Default bool
}

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
		cmd := []string{l.Path, "--nix-dir", l.NixDir}
		if w.Static != "" {
			cmd = append(cmd, "--static", w.Static)
		} else {
			cmd = append(cmd, "--", w.Command)
		}
		procs = append(procs, Process{Type: t, Command: cmd, Default: t == "web" || len(rt.Workers) == 1})
	}
	return procs
}

// Env is the launch environment: the runtime description's env, and PATH
// with its path entries first. Keys are sorted for stable output.
func Env(rt runtimejson.Runtime) (keys []string, env map[string]string) {
	env = map[string]string{}
	for k, v := range rt.Env {
		env[k] = v
	}
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, env
}

// PathPrefix is the PATH prefix from the runtime description.
func PathPrefix(rt runtimejson.Runtime) string { return strings.Join(rt.Path, ":") }

// ShellQuote quotes s for a POSIX shell (Procfile lines run in bash).
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// CommandLine is the process as one shell command line (for Procfiles).
func (p Process) CommandLine() string {
	words := make([]string, len(p.Command))
	for i, w := range p.Command {
		words[i] = ShellQuote(w)
	}
	return strings.Join(words, " ")
}
