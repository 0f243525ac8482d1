// Package heroku is the Heroku-style front-end (Heroku, Dokku/herokuish,
// Cloud Foundry and Kf legacy buildpacks): bin/detect BUILD_DIR,
// bin/compile BUILD_DIR CACHE_DIR ENV_DIR and bin/release BUILD_DIR, around
// the same pipeline as the CNB front-end. Nix and its store are kept in
// CACHE_DIR/nix; the runtime closure goes into the slug at BUILD_DIR/.nix.
package heroku

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/relocate"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// Dirs are compile's arguments.
type Dirs struct {
	// Build is the app, which becomes the slug.
	Build string
	// Cache persists between compiles of the app.
	Cache string
	// Env holds config vars as files ("" when the platform passes none).
	Env string
	// RunDir is the app's directory at run time when the API compile was
	// called through says it ("" otherwise): Cloud Foundry's (see
	// CloudFoundryAppDir).
	RunDir string
}

// Compile is bin/compile: it validates the configuration before writing
// anything, then runs the pipeline with Nix in CACHE_DIR/nix and the slug
// as the target.
func Compile(dirs Dirs, buildpackDir string, logger log.Logger) error {
	start := time.Now()
	in, reloc, err := Input(dirs, buildpackDir, logger)
	if err != nil {
		return err
	}
	if err := checkBuildDir(dirs.Build); err != nil {
		return err
	}
	if kept, err := os.ReadDir(filepath.Join(in.NixDir, "store")); err == nil && len(kept) > 0 {
		logger.Headerf("Nix store in CACHE_DIR: %d entries kept from earlier builds", len(kept))
	}
	if _, err := pipeline.Run(in, newSlugTarget(dirs.Build, buildpackDir, reloc, logger)); err != nil {
		return err
	}
	logger.Headerf("Compiled in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// Input reads the config vars (logging them) and turns them into the
// pipeline's input, with Nix's store in CACHE_DIR/nix, and the slug's
// relocation. Nothing is written.
func Input(dirs Dirs, buildpackDir string, logger log.Logger) (pipeline.Input, relocate.Options, error) {
	bp, err := readBuildpack(buildpackDir)
	if err != nil {
		return pipeline.Input{}, relocate.Options{}, err
	}
	logger.Title(bp.Info.Name, bp.Info.Version, bp.Info.Homepage)
	md, err := libpak.NewBuildModuleMetadata(bp.Metadata)
	if err != nil {
		return pipeline.Input{}, relocate.Options{}, fmt.Errorf("unable to read buildpack.toml metadata\n%w", err)
	}
	env, err := LoadEnv(dirs.Env, settings.Names())
	if err != nil {
		return pipeline.Input{}, relocate.Options{}, err
	}
	settings.Log(logger.BodyWriter(), env.Lookup)
	b, err := settings.ParseBuild(env.Lookup)
	if err != nil {
		return pipeline.Input{}, relocate.Options{}, err
	}
	reloc, err := relocate.NewOptions(b.Relocate, runDir(env.Get("HOME"), dirs))
	if err != nil {
		return pipeline.Input{}, reloc, err
	}
	in, err := pipeline.NewInput(pipeline.Platform{AppDir: dirs.Build, NixDir: filepath.Join(dirs.Cache, "nix"),
		Dependency: nixinstall.Dependency{Buildpack: bp, Metadata: md, Stack: stack(env)}, Secrets: envDirSecrets(dirs.Env), Log: logger}, b)
	return in, reloc, err
}

// envDirSecrets is ENV_DIR, where a Heroku-style platform keeps the app's
// config vars, named for the warning of a build that cannot hide it.
func envDirSecrets(envDir string) pipeline.Secrets {
	var s pipeline.Secrets
	if envDir == "" {
		return s
	}
	s.Add(envDir, "ENV_DIR")
	if entries, err := os.ReadDir(envDir); err == nil {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if len(names) > 0 {
			s.Names = append(s.Names, "the config vars in ENV_DIR ("+strings.Join(names, ", ")+")")
		}
	}
	return s
}

// stack is the platform's stack name (Heroku and Dokku set STACK), which
// libpak matches against the dependency's stacks.
func stack(env Env) string {
	if s := env.Get("STACK"); s != "" {
		return s
	}
	return "heroku"
}

// readBuildpack reads buildpack.toml as libcnb does for the CNB phases.
func readBuildpack(dir string) (libcnb.Buildpack, error) {
	var bp libcnb.Buildpack
	file := filepath.Join(dir, "buildpack.toml")
	if _, err := toml.DecodeFile(file, &bp); err != nil {
		return bp, fmt.Errorf("unable to read %s\n%w", file, err)
	}
	bp.Path = dir
	return bp, nil
}

// BuildpackDir finds the buildpack's root from the running binary:
// lib/linux-<arch>/<name> in the Heroku tarball and a checkout.
func BuildpackDir() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(exe)
	if strings.HasPrefix(filepath.Base(dir), "linux-") && filepath.Base(filepath.Dir(dir)) == "lib" {
		return filepath.Dir(filepath.Dir(dir)), nil
	}
	return filepath.Dir(dir), nil
}

// CompileArgs reads bin/compile BUILD_DIR CACHE_DIR [ENV_DIR] into
// absolute directories. Arguments after ENV_DIR are ignored, as every
// Heroku-API executable here ignores what a platform adds. Without ENV_DIR
// the caller is Cloud Foundry's builder (Heroku, Dokku and the other
// Heroku-style platforms always pass it): the slug runs at
// CloudFoundryAppDir.
func CompileArgs(args []string) (Dirs, error) {
	if len(args) < 2 {
		return Dirs{}, errors.New("usage: bin/compile BUILD_DIR CACHE_DIR [ENV_DIR]")
	}
	dirs := Dirs{Build: args[0], Cache: args[1], RunDir: CloudFoundryAppDir}
	if len(args) >= 3 {
		dirs.Env, dirs.RunDir = args[2], ""
	}
	for _, d := range []*string{&dirs.Build, &dirs.Cache, &dirs.Env} {
		if *d != "" {
			abs, err := filepath.Abs(*d)
			if err != nil {
				return Dirs{}, err
			}
			*d = abs
		}
	}
	return dirs, nil
}

// CompileMain runs bin/compile (CompileArgs) and returns its exit status;
// the build log goes to stdout, a failure to stderr.
func CompileMain(args []string, stdout, stderr io.Writer) int {
	dirs, err := CompileArgs(args)
	if err != nil {
		fmt.Fprintln(stderr, errorPrefix+err.Error())
		return 2
	}
	bpDir, err := BuildpackDir()
	if err != nil {
		fmt.Fprintln(stderr, errorPrefix+err.Error())
		return 1
	}
	if err := Compile(dirs, bpDir, NewLogger(stdout)); err != nil {
		NewLogger(stderr).TerminalError(log.IdentifiableError{Name: "Nix build failed", Err: err})
		return 1
	}
	return 0
}
