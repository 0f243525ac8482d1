// Package nixbuild builds an app's Nix expression as Hop3 does:
// `nix-build <file> -A package` when the expression has a package attribute
// (Hop3's convention), the expression itself when its top level is a
// derivation, or a flake's output with `nix build`; a function at the top
// level is called with its defaults, as nix-build does.
package nixbuild

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
)

// Hop3's limits on a build (plugins/build/nix/builder.py: a 30-minute wall
// clock and a 5-minute no-output watchdog).
const (
	DefaultTimeout       = 30 * time.Minute
	DefaultMaxSilentTime = 5 * time.Minute
)

// Options says how Nix builds the app.
type Options struct {
	// Args are extra arguments for nix-build (or nix build for a flake).
	Args []string
	// Timeout stops a build running longer (Nix's timeout; 0: no limit).
	Timeout time.Duration
	// MaxSilentTime stops a build that prints nothing for longer (Nix's
	// max-silent-time; 0: no limit).
	MaxSilentTime time.Duration
}

// limits are the --option arguments for Timeout and MaxSilentTime.
func (o Options) limits() []string {
	var args []string
	if o.Timeout > 0 {
		args = append(args, "--option", "timeout", seconds(o.Timeout))
	}
	if o.MaxSilentTime > 0 {
		args = append(args, "--option", "max-silent-time", seconds(o.MaxSilentTime))
	}
	return args
}

func seconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(s, 10)
}

// Build builds the app and returns the output path. Nix's own messages go to
// log; a failure carries the last of them and names the file.
func Build(nix nixinstall.Nix, app config.App, opts Options, log io.Writer) (string, error) {
	if app.Flake {
		return buildFlake(nix, app, opts, log)
	}
	target := Target(nix, app)
	args := append(append(append(append([]string{}, target...), "--no-out-link"), opts.limits()...), opts.Args...)
	fmt.Fprintf(log, "nix-build %s\n", strings.Join(append(localTarget(app, target), args[len(target):]...), " "))
	var stdout bytes.Buffer
	if rerr := run(nix, app, "nix-build", args, &stdout, log); rerr != nil {
		return "", fmt.Errorf("%s: nix-build failed (%v)\n%s\nfix the expression and build it locally with `nix-build %s`",
			app.NixFile, rerr.cause, rerr.tail, strings.Join(localTarget(app, target), " "))
	}
	paths := nixstore.ReadLines(stdout.Bytes())
	if len(paths) == 0 {
		return "", fmt.Errorf("%s: nix-build printed no output path", app.NixFile)
	}
	return paths[len(paths)-1], nil
}

// probe tells whether the expression, called with its defaults when it is
// a function, has a package attribute.
const probe = `{ file }:
let
  e = import file;
  v = if builtins.isFunction e then e { } else e;
in
  builtins.isAttrs v && v ? package`

// Target is what nix-build and nix-instantiate are given: the file and
// `-A package` when the expression has a package attribute (Hop3's
// convention), the file alone when its top level is something else (a
// derivation). When the probe cannot tell (a function whose arguments have
// no defaults), it is `-A package`, and Nix reports what is wrong.
func Target(nix nixinstall.Nix, app config.App) []string {
	cmd := nix.Command("nix-instantiate", "--eval", "--arg", "file", app.NixPath(), "-E", probe)
	cmd.Dir = app.Dir
	out, err := cmd.Output()
	if err == nil && strings.TrimSpace(string(out)) == "false" {
		return []string{app.NixPath()}
	}
	return []string{app.NixPath(), "-A", "package"}
}

// localTarget is target as the user would type it in the app's directory.
func localTarget(app config.App, target []string) []string {
	return append([]string{app.NixFile}, target[1:]...)
}

// Instantiate evaluates the app's expression to its derivation (.drv path)
// without building anything.
func Instantiate(nix nixinstall.Nix, app config.App) (string, error) {
	if app.Flake {
		return instantiateFlake(nix, app)
	}
	target := Target(nix, app)
	var stdout bytes.Buffer
	if rerr := run(nix, app, "nix-instantiate", target, &stdout, io.Discard); rerr != nil {
		return "", fmt.Errorf("%s: evaluation failed (%v)\n%s\nfix the expression and evaluate it locally with `nix-instantiate %s`",
			app.NixFile, rerr.cause, rerr.tail, strings.Join(localTarget(app, target), " "))
	}
	lines := nixstore.ReadLines(stdout.Bytes())
	if len(lines) == 0 {
		return "", fmt.Errorf("%s: nix-instantiate printed no derivation", app.NixFile)
	}
	return lines[len(lines)-1], nil
}

// runError is a failed Nix command: its error and the end of its stderr,
// with advice when Nix stopped a build for a limit.
type runError struct {
	cause error
	tail  string
}

// run runs one of Nix's tools in the app's directory, stderr to log.
func run(nix nixinstall.Nix, app config.App, tool string, args []string, stdout, log io.Writer) *runError {
	cmd := nix.Command(tool, args...)
	cmd.Dir = app.Dir
	tail := tailOf(log)
	cmd.Stdout = stdout
	cmd.Stderr = tail
	if err := cmd.Run(); err != nil {
		return &runError{cause: err, tail: tail.message()}
	}
	return nil
}

// tailWriter passes what is written to it on to log and keeps its last
// 4 KiB, for the error message.
type tailWriter struct {
	log io.Writer
	buf bytes.Buffer
}

func tailOf(log io.Writer) *tailWriter { return &tailWriter{log: log} }

func (w *tailWriter) Write(p []byte) (int, error) {
	_, _ = w.log.Write(p)
	w.buf.Write(p)
	if over := w.buf.Len() - 4096; over > 0 {
		w.buf.Next(over)
	}
	return len(p), nil
}

// message is the tail of Nix's messages, with advice when Nix stopped a
// build for a limit.
func (w *tailWriter) message() string {
	msg := strings.TrimSpace(w.buf.String())
	if strings.Contains(msg, "timed out after") {
		msg += "\nthe build ran out of time: raise BP_NIX_BUILD_TIMEOUT (wall clock) or BP_NIX_MAX_SILENT_TIME (no output), 0 for no limit"
	}
	return msg
}
