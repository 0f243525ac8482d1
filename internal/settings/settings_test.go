package settings_test

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestBuildpackTOMLAgrees checks that buildpack.toml declares exactly the
// settings this package reads, with the same defaults, descriptions and
// phases: every declared setting is read, every read setting is declared.
func TestBuildpackTOMLAgrees(t *testing.T) {
	var bp struct {
		Metadata struct {
			Configurations []struct {
				Name, Default, Description string
				Build, Launch              bool
			}
		}
	}
	if _, err := toml.DecodeFile(filepath.Join(testenv.RepoRoot(), "buildpack.toml"), &bp); err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, c := range bp.Metadata.Configurations {
		declared[c.Name] = true
		s, ok := settings.Lookup(c.Name)
		switch {
		case !ok || s.Name != c.Name:
			t.Errorf("buildpack.toml declares %s, which no code reads", c.Name)
		case s.External:
			t.Errorf("buildpack.toml declares %s, another tool's variable", c.Name)
		case s.Default != c.Default:
			t.Errorf("%s: default %q in buildpack.toml, %q in the code", c.Name, c.Default, s.Default)
		case s.Description != c.Description:
			t.Errorf("%s: description differs:\n toml: %s\n code: %s", c.Name, c.Description, s.Description)
		case c.Build != (s.Phase == settings.Build) || c.Launch != (s.Phase == settings.Launch):
			t.Errorf("%s: build=%v launch=%v in buildpack.toml, phase %v in the code", c.Name, c.Build, c.Launch, s.Phase)
		}
	}
	for _, s := range settings.All {
		if !s.External && !declared[s.Name] {
			t.Errorf("%s is read but not declared in buildpack.toml", s.Name)
		}
	}
}

func parse(env map[string]string) (settings.BuildSettings, error) {
	return settings.ParseBuild(settings.Env(env))
}

func TestParseBuild(t *testing.T) {
	s3 := map[string]string{"NIX_S3_BUCKET": "b", "NIX_S3_KEY": "AK", "NIX_S3_SECRET": "SK"}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		env   map[string]string
		check func(settings.BuildSettings) bool
		err   string
	}{
		{name: "defaults", env: nil, check: func(s settings.BuildSettings) bool {
			return s.Strategy == nixmount.Auto && s.BuildArgs == nil && s.Caches.Write == "" && !s.Prune.Unguarded &&
				s.MaxLayers == 100 && s.NixVersion == "2.*" && s.Caches.Policy == settings.BuildMissing
		}},
		{name: "Nix defaults", env: nil, check: func(s settings.BuildSettings) bool {
			return reflect.DeepEqual(s.Substituters, []string{"https://cache.nixos.org"}) && s.ExtraSubstituters == nil &&
				s.Nixpkgs == "channel:nixos-24.11" && s.FlakeAttr == "" && s.BuildTimeout == 30*time.Minute && s.MaxSilentTime == 5*time.Minute
		}},
		{name: "no substituters", env: map[string]string{"BP_NIX_SUBSTITUTERS": "None"},
			check: func(s settings.BuildSettings) bool { return s.Substituters == nil }},
		{name: "empty substituters are the default", env: map[string]string{"BP_NIX_SUBSTITUTERS": " "},
			check: func(s settings.BuildSettings) bool {
				return reflect.DeepEqual(s.Substituters, []string{"https://cache.nixos.org"})
			}},
		{name: "Nix settings", env: map[string]string{"BP_NIX_SUBSTITUTERS": "https://a.example.org file:///srv/c",
			"BP_NIX_EXTRA_SUBSTITUTERS": "https://b.example.org", "BP_NIX_EXTRA_TRUSTED_PUBLIC_KEYS": "b-1:AAAA",
			"BP_NIX_NIXPKGS": " vendor/nixpkgs ", "BP_NIX_FLAKE_ATTR": "web", "BP_NIX_BUILD_TIMEOUT": "0", "BP_NIX_MAX_SILENT_TIME": "90"},
			check: func(s settings.BuildSettings) bool {
				return reflect.DeepEqual(s.Substituters, []string{"https://a.example.org", "file:///srv/c"}) &&
					reflect.DeepEqual(s.ExtraSubstituters, []string{"https://b.example.org"}) &&
					reflect.DeepEqual(s.ExtraTrustedPublicKeys, []string{"b-1:AAAA"}) && s.Nixpkgs == "vendor/nixpkgs" &&
					s.FlakeAttr == "web" && s.BuildTimeout == 0 && s.MaxSilentTime == 90*time.Second
			}},
		{name: "substituter not a URL", env: map[string]string{"BP_NIX_SUBSTITUTERS": "cache.example.org"},
			err: `BP_NIX_SUBSTITUTERS="cache.example.org": "cache.example.org" is not a store URL`},
		{name: "none among URLs", env: map[string]string{"BP_NIX_EXTRA_SUBSTITUTERS": "none https://a.example.org"},
			err: `BP_NIX_EXTRA_SUBSTITUTERS="none https://a.example.org": "none" is not a store URL`},
		{name: "key not a key", env: map[string]string{"BP_NIX_EXTRA_TRUSTED_PUBLIC_KEYS": "AAAA"},
			err: `BP_NIX_EXTRA_TRUSTED_PUBLIC_KEYS="AAAA": "AAAA" is not a public key`},
		{name: "bad silent time", env: map[string]string{"BP_NIX_MAX_SILENT_TIME": "-5m"},
			err: `BP_NIX_MAX_SILENT_TIME="-5m": expected seconds (1800) or a duration (30m, 1h), 0 for no limit`},
		{name: "old flags alias", env: map[string]string{"NIX_BUILD_FLAGS": "--show-trace"},
			check: func(s settings.BuildSettings) bool { return reflect.DeepEqual(s.BuildArgs, []string{"--show-trace"}) }},
		{name: "BP args", env: map[string]string{"BP_NIX_BUILD_ARGS": "--cores 1"},
			check: func(s settings.BuildSettings) bool { return reflect.DeepEqual(s.BuildArgs, []string{"--cores", "1"}) }},
		{name: "args and flags disagree", env: map[string]string{"BP_NIX_BUILD_ARGS": "--cores 1", "NIX_BUILD_FLAGS": "--show-trace"},
			err: `BP_NIX_BUILD_ARGS="--cores 1": disagrees with NIX_BUILD_FLAGS="--show-trace"`},
		{name: "NIX_STRATEGY", env: map[string]string{"NIX_STRATEGY": "proot"}, check: func(s settings.BuildSettings) bool { return s.Strategy == nixmount.PRoot }},
		{name: "same strategy twice", env: map[string]string{"NIX_STRATEGY": "proot", "BP_NIX_STRATEGY": "PRoot"},
			check: func(s settings.BuildSettings) bool { return s.Strategy == nixmount.PRoot }},
		{name: "strategies disagree", env: map[string]string{"NIX_STRATEGY": "proot", "BP_NIX_STRATEGY": "userns"},
			err: `BP_NIX_STRATEGY="userns": disagrees with NIX_STRATEGY="proot"`},
		{name: "unknown strategy", env: map[string]string{"NIX_STRATEGY": "chroot"}, err: `NIX_STRATEGY="chroot": unknown /nix strategy "chroot"`},
		{name: "read caches", env: map[string]string{"BP_NIX_CACHES": "s3://b/p", "NIX_EXTRA_BINARY_CACHE": "https://cache.example.org file:///srv/c"},
			check: func(s settings.BuildSettings) bool {
				return reflect.DeepEqual(s.Caches.Read, []string{"s3://b/p", "https://cache.example.org", "file:///srv/c"})
			}},
		{name: "extra cache not a URL", env: map[string]string{"NIX_EXTRA_BINARY_CACHE": "cache.example.org"},
			err: `NIX_EXTRA_BINARY_CACHE="xxxxx": expected binary cache URLs`},
		{name: "cache URL with secret not a URL", env: map[string]string{"BP_NIX_CACHE": "user:PASS@host"},
			err: `BP_NIX_CACHE="user:xxxxx": expected a binary cache URL`},
		{name: "old S3", env: with(s3, "NIX_APP_NAME", "web-1"), check: func(s settings.BuildSettings) bool {
			return s.Caches.Write == "s3://b/web-1" && s.Caches.WriteFrom == "NIX_S3_BUCKET/NIX_APP_NAME" &&
				*s.Caches.Credentials == settings.Credentials{AccessKeyID: "AK", SecretAccessKey: "SK"}
		}},
		{name: "old S3 without app name", env: s3, err: `NIX_APP_NAME="": not set, but NIX_S3_BUCKET, NIX_S3_KEY, NIX_S3_SECRET are set`},
		{name: "old S3 key without bucket", env: map[string]string{"NIX_S3_KEY": "AK", "NIX_S3_SECRET": "SK", "NIX_APP_NAME": "a"},
			err: "not set, but NIX_S3_KEY, NIX_S3_SECRET are set"},
		{name: "old S3 key without secret", env: map[string]string{"NIX_S3_BUCKET": "b", "NIX_S3_KEY": "AK", "NIX_APP_NAME": "a"},
			err: "NIX_S3_KEY=(hidden): set, but NIX_S3_SECRET is not"},
		{name: "old S3 bad app name", env: with(s3, "NIX_APP_NAME", "a/b"), err: `NIX_APP_NAME="a/b": expected letters`},
		{name: "old S3 and BP_NIX_CACHE", env: with(s3, "NIX_APP_NAME", "a", "BP_NIX_CACHE", "file:///c"), err: "set together with NIX_S3_BUCKET"},
		{name: "AWS keys for BP_NIX_CACHE", env: map[string]string{"BP_NIX_CACHE": "s3://b/p", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"},
			check: func(s settings.BuildSettings) bool {
				return s.Caches.Credentials != nil && s.Caches.Credentials.AccessKeyID == "AK"
			}},
		{name: "policy", env: map[string]string{"BP_NIX_BUILD_POLICY": "NEVER", "NIX_BUILD_ON_PUSH": "1"},
			check: func(s settings.BuildSettings) bool { return s.Caches.Policy == settings.BuildNever }},
		{name: "build on push off", env: map[string]string{"NIX_BUILD_ON_PUSH": "0"},
			check: func(s settings.BuildSettings) bool { return s.Caches.Policy == settings.BuildNever }},
		{name: "build on push false", env: map[string]string{"NIX_BUILD_ON_PUSH": "false"},
			check: func(s settings.BuildSettings) bool { return s.Caches.Policy == settings.BuildNever }},
		{name: "build on push bad", env: map[string]string{"NIX_BUILD_ON_PUSH": "sometimes"}, err: `NIX_BUILD_ON_PUSH="sometimes"`},
		{name: "policy bad", env: map[string]string{"BP_NIX_BUILD_POLICY": "sometimes"}, err: `BP_NIX_BUILD_POLICY="sometimes": expected missing, always or never`},
		{name: "prune guard typo", env: map[string]string{"BP_NIX_PRUNE_GUARD": "ture"}, err: `BP_NIX_PRUNE_GUARD="ture": expected true or false`},
		{name: "prune guard off", env: map[string]string{"BP_NIX_PRUNE_GUARD": "false", "BP_NIX_PRUNE_EMPTY_DIRS": "1", "BP_NIX_SIZE_LIMIT": "2KiB"},
			check: func(s settings.BuildSettings) bool {
				return s.Prune == settings.Prune{Unguarded: true, PruneEmptyDirs: true, SizeLimit: 2048}
			}},
		{name: "size bad", env: map[string]string{"BP_NIX_SIZE_LIMIT": "lots"}, err: `BP_NIX_SIZE_LIMIT="lots": expected a number of bytes`},
		{name: "max layers bad", env: map[string]string{"BP_NIX_MAX_LAYERS": "0"}, err: `BP_NIX_MAX_LAYERS="0": expected a whole number, 1 or more`},
		{name: "tarball sha without tarball", env: map[string]string{"NIXBP_NIX_TARBALL_SHA256": strings.Repeat("a", 64)},
			err: "NIXBP_NIX_TARBALL_SHA256=\"" + strings.Repeat("a", 64) + "\": set, but BP_NIX_TARBALL is not"},
		{name: "tarball relative", env: map[string]string{"BP_NIX_TARBALL": "nix.tar.xz"}, err: "expected an absolute path"},
		{name: "tarball bad sha", env: map[string]string{"NIXBP_NIX_TARBALL": "/n.tar.xz", "BP_NIX_TARBALL_SHA256": "abc"}, err: "expected 64 hexadecimal digits"},
		{name: "tarball file URL", env: map[string]string{"NIXBP_NIX_TARBALL": "file:///n.tar.xz", "NIXBP_NIX_TARBALL_SHA256": "sha256:" + strings.Repeat("A", 64)},
			check: func(s settings.BuildSettings) bool {
				return s.Tarball == settings.Tarball{Path: "/n.tar.xz", SHA256: strings.Repeat("a", 64)}
			}},
		{name: "bad flags named", env: map[string]string{"NIX_BUILD_FLAGS": "--cores 2 --bogus"}, err: "NIX_BUILD_FLAGS: unknown nix-build option --bogus"},
		{name: "attribute refused in BP args", env: map[string]string{"BP_NIX_BUILD_ARGS": "-A x"}, err: "BP_NIX_BUILD_ARGS: nix-build option -A is not allowed here"},
		{name: "bad BP args named", env: map[string]string{"BP_NIX_BUILD_ARGS": "default.nix"}, err: `BP_NIX_BUILD_ARGS: "default.nix" is not a nix-build option`},
		{name: "store gc default", check: func(s settings.BuildSettings) bool { return s.GC == settings.GC{Enabled: true, MaxSize: 2 << 30} }},
		{name: "store gc off", env: map[string]string{"BP_NIX_GC": "false"}, check: func(s settings.BuildSettings) bool { return !s.GC.Enabled }},
		{name: "store gc bad", env: map[string]string{"BP_NIX_GC": "sometimes"}, err: `BP_NIX_GC="sometimes": expected true or false`},
		{name: "cache max size", env: map[string]string{"BP_NIX_CACHE_MAX_SIZE": "500MB"}, check: func(s settings.BuildSettings) bool { return s.GC.MaxSize == 500e6 }},
		{name: "cache max size bad", env: map[string]string{"BP_NIX_CACHE_MAX_SIZE": "lots"}, err: `BP_NIX_CACHE_MAX_SIZE="lots": expected a number of bytes`},
		{name: "stalled download timeout default, Nix's 300 s", check: func(s settings.BuildSettings) bool { return s.Caches.StallTimeout == 300*time.Second }},
		{name: "stalled download timeout", env: map[string]string{"BP_NIX_STALLED_DOWNLOAD_TIMEOUT": "1m"}, check: func(s settings.BuildSettings) bool { return s.Caches.StallTimeout == time.Minute }},
		{name: "stalled download timeout off", env: map[string]string{"BP_NIX_STALLED_DOWNLOAD_TIMEOUT": "0"}, check: func(s settings.BuildSettings) bool { return s.Caches.StallTimeout == 0 }},
		{name: "stalled download timeout bad", env: map[string]string{"BP_NIX_STALLED_DOWNLOAD_TIMEOUT": "soon"}, err: `BP_NIX_STALLED_DOWNLOAD_TIMEOUT="soon": expected seconds`},
		{name: "secret key alias", env: map[string]string{"NIXBP_CACHE_SECRET_KEY": "k-1:abc"},
			check: func(s settings.BuildSettings) bool { return s.Caches.SecretKey == "k-1:abc" }},
		{name: "secret alias disagreement hides both", env: map[string]string{"NIXBP_CACHE_SECRET_KEY": "k-1:abc", "BP_NIX_CACHE_SECRET_KEY": "k-1:xyz"},
			err: "BP_NIX_CACHE_SECRET_KEY=(hidden): disagrees with NIXBP_CACHE_SECRET_KEY=(hidden)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parse(tc.env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(s) {
				t.Fatalf("unexpected settings %#v", s)
			}
		})
	}
}

func TestSecretsNeverShown(t *testing.T) {
	env := map[string]string{"NIX_S3_BUCKET": "b", "NIX_S3_KEY": "AKIDq7x1", "NIX_S3_SECRET": "sk-z9w2", "NIX_APP_NAME": "a",
		"BP_NIX_CACHES": "http://user:PASSw0rd@host/ https://host/?token=T0k3n&region=eu", "BP_NIX_CACHE_SECRET_KEY": "k:SIGNKEY",
		"AWS_SECRET_ACCESS_KEY": "AWSSECRET"}
	s, err := parse(env)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	settings.Log(&log, settings.Env(env))
	for _, shown := range []string{log.String(), s.Caches.Credentials.String(), s.Caches.Credentials.GoString()} {
		for _, secret := range []string{"q7x1", "z9w2", "PASSw0rd", "T0k3n", "SIGNKEY", "AWSSECRET"} {
			if strings.Contains(shown, secret) {
				t.Errorf("%q shows %s", shown, secret)
			}
		}
	}
	if !strings.Contains(log.String(), "region=eu") || !strings.Contains(log.String(), "NIX_S3_BUCKET=b") {
		t.Errorf("the log hides what is not secret:\n%s", log.String())
	}
}

func TestParseLaunch(t *testing.T) {
	l, err := settings.ParseLaunch(settings.Env(map[string]string{"NIXBP_STRATEGY": "proot", "NIXBP_QUIET": "1"}))
	if err != nil || l.Strategy != nixmount.PRoot || !l.Quiet {
		t.Fatalf("%+v, %v", l, err)
	}
	if _, err := settings.ParseLaunch(settings.Env(map[string]string{"NIXBP_STRATEGY": "chroot"})); err == nil ||
		!strings.Contains(err.Error(), `NIXBP_STRATEGY="chroot": unknown /nix strategy`) {
		t.Fatalf("error = %v", err)
	}
	if l, err := settings.ParseLaunch(settings.Env(map[string]string{"NIXBP_RELEASE": " Skip"})); err != nil || !l.SkipRelease {
		t.Fatalf("NIXBP_RELEASE=skip: %+v, %v", l, err)
	}
	if l, err := settings.ParseLaunch(settings.Env(nil)); err != nil || l.SkipRelease {
		t.Fatalf("default: %+v, %v", l, err)
	}
	if _, err := settings.ParseLaunch(settings.Env(map[string]string{"NIXBP_RELEASE": "never"})); err == nil ||
		!strings.Contains(err.Error(), `NIXBP_RELEASE="never": expected auto or skip`) {
		t.Fatalf("error = %v", err)
	}
}

func TestParseCachesForTheCLI(t *testing.T) {
	c, err := settings.ParseCaches(settings.Env(map[string]string{"NIX_S3_BUCKET": "b", "NIX_APP_NAME": "app", "BP_NIX_TRUSTED_PUBLIC_KEYS": "k:1 j:2",
		"BP_NIX_STRATEGY": "bogus"}))
	if err != nil || c.Write != "s3://b/app" || !reflect.DeepEqual(c.TrustedKeys, []string{"k:1", "j:2"}) {
		t.Fatalf("%#v, %v", c, err)
	}
}

func TestParseBuildFlags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "", want: nil},
		{in: "--cores 2 --option max-jobs 2", want: []string{"--cores", "2", "--option", "max-jobs", "2"}},
		{in: "  --show-trace\t-vvv --keep-going -j auto ", want: []string{"--show-trace", "-vvv", "--keep-going", "-j", "auto"}},
		{in: "--arg debug true --argstr name x -I nixpkgs=/src", want: []string{"--arg", "debug", "true", "--argstr", "name", "x", "-I", "nixpkgs=/src"}},
		{in: "--frobnicate", err: "NIX_BUILD_FLAGS: unknown nix-build option --frobnicate"},
		{in: "--cores 2 hop3.nix", err: `NIX_BUILD_FLAGS: "hop3.nix" is not a nix-build option (word 3`},
		{in: "release", err: `"release" is not a nix-build option`},
		{in: "--cores", err: "--cores needs 1 value(s), got 0"},
		{in: "--option sandbox", err: "--option needs 2 value(s), got 1"},
		{in: "--option --show-trace x", err: "got the option --show-trace"},
		{in: "--cores two", err: `--cores takes a whole number, got "two"`},
		{in: "-A package", err: "option -A is not allowed here"},
		{in: "-o result", err: "option -o is not allowed here"},
		{in: "--arg file ./x.nix", err: "--arg file is the buildpack's own argument"},
	} {
		got, err := settings.ParseBuildFlags("NIX_BUILD_FLAGS", tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseBuildFlags(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseBuildFlags(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseLimit(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"", 0, false}, {"0", 0, false}, {"1800", 30 * time.Minute, false}, {"5m", 5 * time.Minute, false},
		{" 1h30m ", 90 * time.Minute, false}, {"-1", 0, true}, {"soon", 0, true}, {"-5m", 0, true},
	} {
		got, err := settings.ParseLimit(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseLimit(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}
