// Package heroku is the Heroku-style front-end (Heroku, Dokku/herokuish,
// Cloud Foundry and Kf legacy buildpacks): bin/detect BUILD_DIR,
// bin/compile BUILD_DIR CACHE_DIR ENV_DIR and bin/release BUILD_DIR, around
// the same pipeline as the CNB front-end. Nix and its store are kept in
// CACHE_DIR/nix; the runtime closure goes into the slug at BUILD_DIR/.nix.
package heroku

import (
	"context"
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

	"github.com/nix-buildpack/nix-buildpack/internal/closure"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
)

// Dirs are compile's arguments.
type Dirs struct {
	// Build is the app, which becomes the slug.
	Build string
	// Cache persists between compiles of the app.
	Cache string
	// Env holds config vars as files ("" when the platform passes none).
	Env string
}

// Compile is bin/compile: it validates the configuration before writing
// anything, then runs the pipeline with Nix in CACHE_DIR/nix and the slug
// as the target.
func Compile(dirs Dirs, buildpackDir string, logger log.Logger) error {
	start := time.Now()
	bp, err := readBuildpack(buildpackDir)
	if err != nil {
		return err
	}
	logger.Title(bp.Info.Name, bp.Info.Version, bp.Info.Homepage)
	md, err := libpak.NewBuildModuleMetadata(bp.Metadata)
	if err != nil {
		return fmt.Errorf("unable to read buildpack.toml metadata\n%w", err)
	}
	env, err := loadConfig(dirs.Env, md)
	if err != nil {
		return err
	}
	cr, err := libpak.NewConfigurationResolver(md)
	if err != nil {
		return fmt.Errorf("unable to resolve configuration\n%w", err)
	}
	cr.LogConfiguration(logger)
	settings, err := ParseSettings(env, func(name string) string { v, _ := cr.Resolve(name); return v })
	if err != nil {
		return err
	}
	if settings.Relocate, err = parseRelocate(env, func(name string) string { v, _ := cr.Resolve(name); return v }, dirs.Build); err != nil {
		return err
	}
	logVars(env, logger)
	if err := checkBuildDir(dirs.Build); err != nil {
		return err
	}
	src, err := nixSource(bp, md, settings, stack(env), logger)
	if err != nil {
		return err
	}
	caches, err := closure.OpenCaches(context.Background(), settings.Caches, logger.BodyWriter())
	if err != nil {
		return err
	}
	if settings.S3 != nil {
		logger.Bodyf("Closure cache from the old S3 variables: %s", settings.S3)
	}

	nixDir := filepath.Join(dirs.Cache, "nix")
	if kept, err := os.ReadDir(filepath.Join(nixDir, "store")); err == nil && len(kept) > 0 {
		logger.Headerf("Nix store in CACHE_DIR: %d entries kept from earlier builds", len(kept))
	}
	in := pipeline.Input{
		AppDir:    dirs.Build,
		NixDir:    nixDir,
		Nix:       src,
		Strategy:  settings.Strategy,
		Settings:  nixinstall.Settings{Substituters: settings.Substituters, TrustedPublicKeys: settings.TrustedPublicKeys},
		BuildArgs: settings.BuildArgs,
		Caches:    caches,
		Prune:     settings.Prune,
		StoreGC:   settings.StoreGC,
		Log:       logger,
	}
	if _, err := pipeline.Run(in, newSlugTarget(dirs.Build, buildpackDir, settings.Relocate, logger)); err != nil {
		return err
	}
	logger.Headerf("Compiled in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// loadConfig reads the config vars this buildpack uses, and exports the
// BP_NIX_* ones found in ENV_DIR so that libpak's ConfigurationResolver,
// which reads the process environment, sees them.
func loadConfig(envDir string, md libpak.BuildModuleMetadata) (Env, error) {
	names := append([]string{}, Vars...)
	for _, c := range md.Configurations {
		names = append(names, c.Name)
	}
	env, err := LoadEnv(envDir, names)
	if err != nil {
		return env, err
	}
	for _, c := range md.Configurations {
		if v, ok := env.Lookup(c.Name); ok {
			if err := os.Setenv(c.Name, v); err != nil {
				return env, err
			}
		}
	}
	return env, nil
}

func logVars(env Env, logger log.Logger) {
	for _, name := range env.Names(Vars...) {
		shown := env.Get(name)
		if secretVars[name] {
			shown = "(hidden)"
		}
		logger.Bodyf("%s=%s (from %s)", name, shown, env.Source(name))
	}
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

// CompileMain runs bin/compile BUILD_DIR CACHE_DIR [ENV_DIR] and returns
// its exit status; the build log goes to stdout, a failure to stderr.
func CompileMain(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || len(args) > 3 {
		fmt.Fprintln(stderr, errorPrefix+"usage: bin/compile BUILD_DIR CACHE_DIR [ENV_DIR]")
		return 2
	}
	dirs := Dirs{Build: args[0], Cache: args[1]}
	if len(args) == 3 {
		dirs.Env = args[2]
	}
	for _, d := range []*string{&dirs.Build, &dirs.Cache, &dirs.Env} {
		if *d != "" {
			abs, err := filepath.Abs(*d)
			if err != nil {
				fmt.Fprintln(stderr, errorPrefix+err.Error())
				return 2
			}
			*d = abs
		}
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
