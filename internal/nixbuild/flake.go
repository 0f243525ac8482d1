package nixbuild

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// flakeFeatures turns flakes on for one command, leaving nix.conf as is.
var flakeFeatures = []string{"--extra-experimental-features", "nix-command flakes"}

// System is the Nix system of this machine, as in packages.<system>.
func System() string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686"}[runtime.GOARCH]
	if arch == "" {
		arch = runtime.GOARCH
	}
	return arch + "-" + runtime.GOOS
}

// FlakeAttr is the flake output the app builds: its Attr (hop3.toml's
// [build.nix] attr, else the setting), else packages.<system>.default. A
// short name is looked up as the nix CLI does (packages.<system>.<name>,
// then legacyPackages.<system>.<name>, then <name>).
func FlakeAttr(app config.App) string {
	if app.Attr != "" {
		return app.Attr
	}
	return "packages." + System() + ".default"
}

// FlakeRef is the installable `nix build` is given: the app's directory as
// a path: flake (every file, whether or not git tracks it; flake.lock
// pins the inputs) and the output.
func FlakeRef(app config.App) string {
	return "path:" + filepath.Dir(app.NixPath()) + "#" + FlakeAttr(app)
}

// buildFlake builds the flake output with `nix build`. flake.lock is read,
// never written: an input it does not pin is resolved afresh on every build.
func buildFlake(nix nixinstall.Nix, app config.App, opts Options, log io.Writer) (string, error) {
	ref := FlakeRef(app)
	args := append(append(append([]string{}, flakeFeatures...), "build", ref, "--no-link", "--json", "--no-write-lock-file"),
		opts.limits()...)
	args = append(args, opts.Args...)
	fmt.Fprintf(log, "nix %s\n", shellWords(args))
	var stdout bytes.Buffer
	if rerr := run(nix, app, "nix", args, &stdout, log); rerr != nil {
		return "", fmt.Errorf("%s: nix build failed (%v)\n%s\nfix the flake and build it locally with `nix build .#%s`",
			app.NixFile, rerr.cause, rerr.tail, FlakeAttr(app))
	}
	var built []struct {
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &built); err != nil || len(built) == 0 {
		return "", fmt.Errorf("%s: nix build --json printed no build result (%q)", app.NixFile, stdout.String())
	}
	if out, ok := built[0].Outputs["out"]; ok {
		return out, nil
	}
	for _, out := range built[0].Outputs {
		return out, nil
	}
	return "", fmt.Errorf("%s: %s has no output", app.NixFile, ref)
}

// instantiateFlake evaluates the flake output to its derivation.
func instantiateFlake(nix nixinstall.Nix, app config.App) (string, error) {
	ref := FlakeRef(app)
	args := append(append([]string{}, flakeFeatures...), "eval", "--raw", "--no-write-lock-file", ref+".drvPath")
	var stdout bytes.Buffer
	if rerr := run(nix, app, "nix", args, &stdout, io.Discard); rerr != nil {
		return "", fmt.Errorf("%s: evaluation failed (%v)\n%s\nfix the flake and evaluate it locally with `nix eval .#%s.drvPath`",
			app.NixFile, rerr.cause, rerr.tail, FlakeAttr(app))
	}
	drv := strings.TrimSpace(stdout.String())
	if !strings.HasSuffix(drv, ".drv") {
		return "", fmt.Errorf("%s: %s.drvPath is %q, not a derivation", app.NixFile, ref, drv)
	}
	return drv, nil
}

// shellWords joins args as a shell would read them back, for the log.
func shellWords(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if a == "" || strings.ContainsAny(a, " \t'\"$\\") {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(quoted, " ")
}
