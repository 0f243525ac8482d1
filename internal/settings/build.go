package settings

import (
	"strconv"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
)

// BuildSettings is the validated configuration of one build, the same for
// both front-ends and the CLI.
type BuildSettings struct {
	// Strategy is the /nix strategy at build time.
	Strategy nixmount.Strategy
	// BuildArgs are extra nix-build arguments, checked against its options.
	BuildArgs []string
	// Substituters replace cache.nixos.org (nil: none); ExtraSubstituters
	// come after them. Both go to nix.conf.
	Substituters, ExtraSubstituters []string
	// TrustedPublicKeys verify substituted and restored paths;
	// ExtraTrustedPublicKeys Nix's substituters only.
	TrustedPublicKeys, ExtraTrustedPublicKeys []string
	// Nixpkgs is what <nixpkgs> is, unresolved (it may name a path in the
	// app, which the pipeline resolves).
	Nixpkgs string
	// NixpkgsSet says BP_NIX_NIXPKGS was set, not defaulted: it then
	// replaces the nixpkgs a hop3.toml [nix] template pins.
	NixpkgsSet bool
	// FlakeAttr is the flake output to build ("": packages.<system>.default).
	FlakeAttr string
	// BuildTimeout and MaxSilentTime limit each Nix build (0: no limit).
	BuildTimeout, MaxSilentTime time.Duration
	// NixVersion constrains the buildpack.toml Nix dependency.
	NixVersion string
	// Tarball is a local Nix installer tarball overriding the download.
	Tarball Tarball
	// Caches are the closure caches.
	Caches Caches
	// Prune says how the closure is pruned into the target.
	Prune Prune
	// MaxLayers bounds the number of store layers in an image.
	MaxLayers int
	// GC says whether and how the build cache's store is collected.
	GC GC
	// Relocate says whether a slug carries a relocated closure.
	Relocate Relocate
	// Sandbox says whether Nix builds in its sandbox.
	Sandbox Sandbox
	// Secrets names the secret settings that are set (never their values),
	// for the warning of a build that cannot hide them from Nix.
	Secrets []string
}

// Relocate is how a Heroku-style slug relocates the closure
// (internal/relocate): Mode auto, always or never; AppDir the app's
// directory at run time ("" unknown); Warn turns check findings into
// warnings under always.
type Relocate struct {
	Mode, AppDir string
	Warn         bool
}

// GC says whether the build cache's Nix store is collected after a build,
// and the size it is bounded to (bytes of NAR; 0: no bound).
type GC struct {
	Enabled bool
	MaxSize int64
}

// Tarball is a Nix installer tarball on the build machine.
type Tarball struct {
	// Path is the file ("" when not set).
	Path string
	// SHA256 is the checksum it must have; "" means the buildpack.toml pin.
	SHA256 string
}

// Prune says how the runtime closure is pruned into the target.
type Prune struct {
	// Unguarded lets a pruning remove what the app needs (a warning, not an error).
	Unguarded bool
	// SizeLimit warns when the pruned closure is larger (bytes; 0: none).
	SizeLimit int64
	// PruneEmptyDirs drops empty directories, as rsync -m.
	PruneEmptyDirs bool
}

// ParseBuild reads and validates every build setting from src. The first
// bad value is returned as an *Error naming the variable.
func ParseBuild(src Vars) (BuildSettings, error) {
	var b BuildSettings
	r := reader{src: src}
	b.Strategy = r.strategy(StrategyName)
	b.BuildArgs = r.buildArgs(BuildArgsName)
	b.Substituters = r.substituters(SubstitutersName)
	b.ExtraSubstituters = r.storeURLs(ExtraSubstName)
	b.TrustedPublicKeys = r.keys(TrustedKeysName)
	b.ExtraTrustedPublicKeys = r.keys(ExtraKeysName)
	nixpkgs := r.value(NixpkgsName)
	b.Nixpkgs, b.NixpkgsSet = strings.TrimSpace(nixpkgs.text), nixpkgs.set()
	b.FlakeAttr = strings.TrimSpace(r.text(FlakeAttrName))
	b.BuildTimeout = r.limit(BuildTimeoutName)
	b.MaxSilentTime = r.limit(MaxSilentName)
	b.NixVersion = strings.TrimSpace(r.text(VersionName))
	b.Tarball = r.tarball()
	b.Caches = r.caches(b.TrustedPublicKeys)
	b.Prune = Prune{Unguarded: !r.bool(PruneGuardName), PruneEmptyDirs: r.bool(EmptyDirsName), SizeLimit: r.size(SizeLimitName)}
	b.MaxLayers = r.count(MaxLayersName)
	b.GC = GC{Enabled: r.bool(GCName), MaxSize: r.size(CacheMaxSizeName)}
	b.Relocate = r.relocate()
	b.Sandbox = r.sandbox()
	b.Secrets = secretsSet(src)
	return b, r.err
}

// secretsSet names the secret settings src sets to a value.
func secretsSet(src Vars) []string {
	var names []string
	for _, s := range All {
		if !s.Secret {
			continue
		}
		for _, n := range append([]string{s.Name}, s.Aliases...) {
			if v, ok := src(n); ok && strings.TrimSpace(v) != "" {
				names = append(names, n)
			}
		}
	}
	return names
}

// reader reads settings from a source and keeps the first error, so that a
// parse reads as a list of fields.
type reader struct {
	src Vars
	err error
}

func (r *reader) value(name string) value {
	if r.err != nil {
		return value{}
	}
	v, err := get(r.src, name)
	if err != nil {
		r.err = err
	}
	return v
}

func (r *reader) fail(name string, v value, problem, fix string) {
	if r.err != nil {
		return
	}
	s, _ := Lookup(name)
	from := v.from
	if from == "" {
		from = name
	}
	r.err = &Error{Name: from, Value: v.text, Secret: s.Secret, Problem: problem, Fix: fix}
}

func (r *reader) text(name string) string { return r.value(name).text }

func (r *reader) words(name string) []string { return strings.Fields(r.text(name)) }

func (r *reader) bool(name string) bool {
	v := r.value(name)
	b, err := strconv.ParseBool(strings.TrimSpace(v.text))
	if err != nil {
		r.fail(name, v, "expected true or false", "")
	}
	return b
}

func (r *reader) size(name string) int64 {
	v := r.value(name)
	n, err := ParseSize(v.text)
	if err != nil {
		r.fail(name, v, "expected a number of bytes, or one with a unit such as 500MB or 2GiB", "")
	}
	return n
}

func (r *reader) count(name string) int {
	v := r.value(name)
	n, err := strconv.Atoi(strings.TrimSpace(v.text))
	if err != nil || n < 1 {
		r.fail(name, v, "expected a whole number, 1 or more", "")
	}
	return n
}

func (r *reader) strategy(name string) nixmount.Strategy {
	v := r.value(name)
	st, err := nixmount.ParseStrategy(v.text)
	if err != nil {
		r.fail(name, v, err.Error(), "")
	}
	return st
}

func (r *reader) buildArgs(name string) []string {
	v := r.value(name)
	from := v.from
	if from == "" {
		from = name
	}
	words, err := ParseBuildFlags(from, v.text)
	if err != nil && r.err == nil {
		r.err = err
	}
	return words
}

// Sandbox is BP_NIX_SANDBOX: whether Nix builds in its sandbox.
type Sandbox string

// The values of BP_NIX_SANDBOX.
const (
	// SandboxAuto is on where the /nix strategy and the kernel allow it.
	SandboxAuto Sandbox = "auto"
	// SandboxOn fails the build when the sandbox cannot be had.
	SandboxOn Sandbox = "true"
	// SandboxOff builds without it.
	SandboxOff Sandbox = "false"
)

func (r *reader) sandbox() Sandbox {
	v := r.value(SandboxName)
	switch strings.ToLower(strings.TrimSpace(v.text)) {
	case "", "auto":
		return SandboxAuto
	case "true", "1", "yes", "on":
		return SandboxOn
	case "false", "0", "no", "off":
		return SandboxOff
	}
	r.fail(SandboxName, v, "expected auto, true or false", "")
	return SandboxAuto
}

func (r *reader) relocate() Relocate {
	mode, check := r.value(RelocateName), r.value(RelocateCheckName)
	rel := Relocate{Mode: strings.ToLower(strings.TrimSpace(mode.text)), AppDir: strings.TrimSpace(r.text(RelocateAppDirName))}
	switch rel.Mode {
	case "":
		rel.Mode = "auto"
	case "auto", "always", "never":
	default:
		r.fail(RelocateName, mode, "expected auto, always or never", "")
	}
	switch strings.ToLower(strings.TrimSpace(check.text)) {
	case "", "fail":
	case "warn":
		rel.Warn = true
	default:
		r.fail(RelocateCheckName, check, "expected fail or warn", "")
	}
	return rel
}
