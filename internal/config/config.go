// Package config finds the Nix expression that describes an app: hop3.nix,
// the expression hop3.toml names, a flake.nix, or the old buildpacks'
// default.nix.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Default file names, in the order they are looked for.
const (
	Hop3Nix    = "hop3.nix"
	Hop3TOML   = "hop3.toml"
	DefaultNix = "default.nix"
	FlakeNix   = "flake.nix"
	// GeneratedNix is where the expression generated from hop3.toml's [nix]
	// template is written: the app's root, as Hop3 writes its hop3.nix, so
	// that the template's relative paths (./requirements.txt, gemdir = ./.)
	// resolve in the app; not hop3.nix, which would then be an app's own.
	GeneratedNix = ".hop3-template.nix"
)

// App is an application that Nix builds.
type App struct {
	// Dir is the application's directory.
	Dir string
	// NixFile is the expression, relative to Dir.
	NixFile string
	// Source says how the expression was found (for the log).
	Source string
	// Flake says NixFile is a flake.nix, built as a flake output.
	Flake bool
	// Nixpkgs is hop3.toml's [build.nix] nixpkgs ("" when unset): what
	// <nixpkgs> is, over the buildpack's setting. NixpkgsKey names it for
	// messages ("hop3.toml:7 [build.nix] nixpkgs").
	Nixpkgs, NixpkgsKey string
	// Template is hop3.toml's [nix] template ("" when unset): NixFile is
	// then generated from it (internal/nixgen). TOML is hop3.toml's path
	// relative to Dir, TemplateKey names the setting for messages.
	Template, TemplateKey, TOML string
	// Attr is hop3.toml's [build.nix] attr ("" when unset): the flake output
	// to build, over the buildpack's setting. AttrKey names it.
	Attr, AttrKey string
}

// NixPath is the absolute path of the expression.
func (a App) NixPath() string { return filepath.Join(a.Dir, a.NixFile) }

// ErrNotNix means the app does not describe itself with Nix: detection
// fails quietly.
var ErrNotNix = errors.New("no hop3.nix, no hop3.toml selecting nix, no default.nix")

// Load finds the app's Nix expression. It returns ErrNotNix when there is
// none and a descriptive error when hop3.toml is malformed or names a file
// that does not exist. For a [nix] template, NixFile is where the generated
// expression is to be written; Load does not write it.
func Load(dir string) (App, error) {
	app, b, place, err := find(dir)
	if err != nil {
		return app, err
	}
	if b.nixpkgs != "" {
		app.Nixpkgs, app.NixpkgsKey = b.nixpkgs, fmt.Sprintf("%s:%d [build.nix] nixpkgs", place, b.nixpkgsLine)
	}
	if b.attr != "" {
		app.Attr, app.AttrKey = b.attr, fmt.Sprintf("%s:%d [build.nix] attr", place, b.attrLine)
	}
	return app, nil
}

// find selects the expression, and returns what hop3.toml's [build] says
// and where hop3.toml is ("" when there is none).
func find(dir string) (App, buildTable, string, error) {
	var b buildTable
	place := FindTOML(dir)
	if place != "" {
		var err error
		if b, err = readBuild(filepath.Join(dir, place), place); err != nil {
			return App{}, b, place, err
		}
		if b.selected != "" && b.selected != "nix" {
			return App{}, b, place, ErrNotNix
		}
		if b.template != "" {
			app, err := appFromTemplate(dir, place, b)
			return app, b, place, err
		}
		if b.file != "" {
			app, err := appFromTOML(dir, place, b)
			return app, b, place, err
		}
		if b.selected == "nix" {
			if exists(filepath.Join(dir, Hop3Nix)) {
				return App{Dir: dir, NixFile: Hop3Nix, Source: place + " [build] selects nix; using hop3.nix"}, b, place, nil
			}
			if exists(filepath.Join(dir, FlakeNix)) {
				return App{Dir: dir, NixFile: FlakeNix, Flake: true, Source: place + " [build] selects nix; using flake.nix"}, b, place, nil
			}
			return App{}, b, place, fmt.Errorf("%s:%d: [build] selects nix but [build.nix] file is not set and %s does not exist\n"+
				"add a %s, or name a Hop3 template under [nix] (e.g. template = \"nixpkgs-wrapper\"; docs/hop3-templates.md), "+
				"or set `file = \"<expression>.nix\"` under [build.nix]", place, b.selectedLine, Hop3Nix, Hop3Nix)
		}
	}
	for _, name := range []string{Hop3Nix, FlakeNix, DefaultNix} {
		if exists(filepath.Join(dir, name)) {
			return App{Dir: dir, NixFile: name, Source: name, Flake: name == FlakeNix}, b, place, nil
		}
	}
	return App{}, b, place, ErrNotNix
}

// appFromTemplate is an app whose expression is generated from [nix]
// template. Like Hop3, it refuses a hop3.nix beside it: one of the two would
// be silently ignored.
func appFromTemplate(dir, place string, b buildTable) (App, error) {
	key := fmt.Sprintf("%s:%d [nix] template", place, b.templateLine)
	if exists(filepath.Join(dir, Hop3Nix)) {
		return App{}, fmt.Errorf("%s:%d: both %s and [nix] template = %q are present, and one of them would be ignored\n"+
			"pick one: delete %s to build from the template, or remove [nix] template to keep your %s; "+
			"`nixbp nix eject` turns the template into a %s to edit by hand", place, b.templateLine, Hop3Nix, b.template, Hop3Nix, Hop3Nix, Hop3Nix)
	}
	if b.file != "" {
		return App{}, fmt.Errorf("%s:%d: [build.nix] file = %q and [nix] template = %q both choose the expression\n"+
			"keep one of them", place, b.fileLine, b.file, b.template)
	}
	return App{Dir: dir, NixFile: GeneratedNix, Source: fmt.Sprintf("generated from %s [nix] template = %q", place, b.template),
		Template: b.template, TemplateKey: key, TOML: place}, nil
}

func appFromTOML(dir, place string, b buildTable) (App, error) {
	clean := filepath.Clean(b.file)
	if filepath.IsAbs(clean) || clean == ".." || len(clean) > 2 && clean[:3] == "../" {
		return App{}, fmt.Errorf("%s:%d: [build.nix] file = %q must be a path inside the app\nname a file relative to the app's root, e.g. \"hop3.nix\"",
			place, b.fileLine, b.file)
	}
	if fi, err := os.Stat(filepath.Join(dir, clean)); err == nil && fi.IsDir() {
		return App{}, fmt.Errorf("%s:%d: [build.nix] file = %q is a directory, not a Nix expression\nname the expression file, e.g. \"hop3.nix\"",
			place, b.fileLine, b.file)
	}
	if !exists(filepath.Join(dir, clean)) {
		return App{}, fmt.Errorf("%s:%d: [build.nix] file = %q does not exist in the app\ncreate it, or correct the name", place, b.fileLine, b.file)
	}
	return App{Dir: dir, NixFile: clean, Source: fmt.Sprintf("%s [build.nix] file", place),
		Flake: filepath.Base(clean) == FlakeNix}, nil
}

func exists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
