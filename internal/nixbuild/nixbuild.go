// Package nixbuild builds an app's Nix expression: the `package` attribute of
// hop3.nix (Hop3's convention), or the expression itself when its top level
// is a derivation; a function is called with its defaults.
package nixbuild

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// wrapper selects what to build from the user's expression.
const wrapper = `{ file }:
let
  e = import file;
  v = if builtins.isFunction e then e { } else e;
in
  if builtins.isAttrs v && v ? package then v.package
  else if builtins.isAttrs v && v ? type && v.type == "derivation" then v
  else throw "${toString file}: expected { package = <derivation>; } or a derivation at the top level"`

// Build runs nix-build on the app's expression and returns the output path.
// Nix's own messages go to log; a failure carries the last of them and names
// the file.
func Build(nix nixinstall.Nix, app config.App, extraArgs []string, log io.Writer) (string, error) {
	args := append([]string{"--no-out-link", "--arg", "file", app.NixPath(), "-E", wrapper}, extraArgs...)
	cmd := nix.Command("nix-build", args...)
	cmd.Dir = app.Dir
	var stdout, tail bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(log, &tailWriter{buf: &tail, max: 4096})
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: nix-build failed (%v)\n%s\nfix the expression and build it locally with `nix-build %s -A package`",
			app.NixFile, err, strings.TrimSpace(tail.String()), app.NixFile)
	}
	paths := nixinstall.ReadLines(stdout.Bytes())
	if len(paths) == 0 {
		return "", fmt.Errorf("%s: nix-build printed no output path", app.NixFile)
	}
	return paths[len(paths)-1], nil
}

// Attributes evaluates the expression's top-level workers/env/path
// attributes (the ADR 006 style) as JSON, for apps without runtime.json.
// It returns nil when there are no such attributes.
func Attributes(nix nixinstall.Nix, app config.App) ([]byte, error) {
	expr := `{ file }:
let
  e = import file;
  v = if builtins.isFunction e then e { } else e;
  pick = n: if builtins.isAttrs v && v ? ${n} then { ${n} = v.${n}; } else { };
in pick "workers" // pick "env" // pick "path"`
	cmd := nix.Command("nix-instantiate", "--eval", "--strict", "--json", "--arg", "file", app.NixPath(), "-E", expr)
	cmd.Dir = app.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: unable to evaluate workers/env/path attributes\n%s", app.NixFile, strings.TrimSpace(stderr.String()))
	}
	if strings.TrimSpace(string(out)) == "{}" {
		return nil, nil
	}
	return out, nil
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	buf *bytes.Buffer
	max int
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if over := w.buf.Len() - w.max; over > 0 {
		w.buf.Next(over)
	}
	return len(p), nil
}

// Instantiate evaluates the app's expression to its derivation (.drv path)
// without building anything.
func Instantiate(nix nixinstall.Nix, app config.App) (string, error) {
	cmd := nix.Command("nix-instantiate", "--arg", "file", app.NixPath(), "-E", wrapper)
	cmd.Dir = app.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: evaluation failed (%v)\n%s\nfix the expression and evaluate it locally with `nix-instantiate %s -A package`",
			app.NixFile, err, strings.TrimSpace(stderr.String()), app.NixFile)
	}
	lines := nixinstall.ReadLines(out)
	if len(lines) == 0 {
		return "", fmt.Errorf("%s: nix-instantiate printed no derivation", app.NixFile)
	}
	return lines[len(lines)-1], nil
}
