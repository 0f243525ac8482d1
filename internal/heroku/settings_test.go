package heroku

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/closure"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/storegc"
)

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
		got, err := ParseBuildFlags(BuildFlagsVar, tc.in)
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

// defaults are the buildpack.toml defaults of the settings read here.
var defaults = map[string]string{bpStrategy: "auto", bpVersion: "2.*", bpPruneGuard: "true", bpEmptyDirs: "false",
	bpStoreGC: "true", bpCacheMaxSize: "2GiB"}

func settings(env map[string]string) (Settings, error) {
	return ParseSettings(NewEnv(env), func(name string) string {
		if v, ok := env[name]; ok {
			return v
		}
		return defaults[name]
	})
}

func TestParseSettings(t *testing.T) {
	s3 := map[string]string{S3BucketVar: "b", S3KeyVar: "AK", S3SecretVar: "SK"}
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
		check func(Settings) bool
		err   string
	}{
		{name: "defaults", env: nil, check: func(s Settings) bool {
			return s.Strategy == nixmount.Auto && s.BuildArgs == nil && s.S3 == nil && !s.Prune.Unguarded
		}},
		{name: "old flags after BP args", env: map[string]string{bpBuildArgs: "--cores 1", BuildFlagsVar: "--show-trace"},
			check: func(s Settings) bool { return reflect.DeepEqual(s.BuildArgs, []string{"--cores", "1", "--show-trace"}) }},
		{name: "NIX_STRATEGY", env: map[string]string{StrategyVar: "proot"}, check: func(s Settings) bool { return s.Strategy == nixmount.PRoot }},
		{name: "same strategy twice", env: map[string]string{StrategyVar: "proot", bpStrategy: "PRoot"},
			check: func(s Settings) bool { return s.Strategy == nixmount.PRoot }},
		{name: "strategies disagree", env: map[string]string{StrategyVar: "proot", bpStrategy: "userns"}, err: `NIX_STRATEGY="proot" and BP_NIX_STRATEGY="userns" disagree`},
		{name: "unknown strategy", env: map[string]string{StrategyVar: "chroot"}, err: `NIX_STRATEGY: unknown /nix strategy "chroot"`},
		{name: "extra cache is read", env: map[string]string{ExtraCacheVar: "https://cache.example.org file:///srv/c"},
			check: func(s Settings) bool {
				return reflect.DeepEqual(s.Caches.Read, []string{"https://cache.example.org", "file:///srv/c"})
			}},
		{name: "extra cache not a URL", env: map[string]string{ExtraCacheVar: "cache.example.org"}, err: `NIX_EXTRA_BINARY_CACHE: "cache.example.org" is not a binary cache URL`},
		{name: "old S3", env: with(s3, AppNameVar, "web-1"), check: func(s Settings) bool {
			return s.S3.URL() == "s3://b/web-1" && s.Caches.OldS3 == closure.OldS3{Bucket: "b", AppName: "web-1", Key: "AK", Secret: "SK"}
		}},
		{name: "old S3 without app name", env: s3, err: "NIX_S3_BUCKET, NIX_S3_KEY, NIX_S3_SECRET are set but NIX_APP_NAME is not"},
		{name: "old S3 key without bucket", env: map[string]string{S3KeyVar: "AK", S3SecretVar: "SK", AppNameVar: "a"}, err: "NIX_S3_KEY, NIX_S3_SECRET are set but NIX_S3_BUCKET is not"},
		{name: "old S3 key without secret", env: map[string]string{S3BucketVar: "b", S3KeyVar: "AK", AppNameVar: "a"}, err: "NIX_S3_KEY is set but NIX_S3_SECRET is not"},
		{name: "old S3 bad app name", env: with(s3, AppNameVar, "a/b"), err: `NIX_APP_NAME="a/b": expected letters`},
		{name: "old S3 and BP_NIX_CACHE", env: with(s3, AppNameVar, "a", bpCache, "file:///c"), err: "both BP_NIX_CACHE and NIX_S3_BUCKET are set"},
		{name: "AWS keys for BP_NIX_CACHE", env: map[string]string{bpCache: "s3://b/p", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"},
			check: func(s Settings) bool { return s.Caches.Credentials != nil && s.Caches.Credentials.AccessKeyID == "AK" }},
		{name: "build on push off", env: map[string]string{BuildOnPushVar: "0"}, check: func(s Settings) bool { return s.Caches.BuildOnPush == "0" }},
		{name: "build on push bad", env: map[string]string{BuildOnPushVar: "sometimes"}, err: `NIX_BUILD_ON_PUSH="sometimes"`},
		{name: "prune guard bad", env: map[string]string{bpPruneGuard: "maybe"}, err: `BP_NIX_PRUNE_GUARD="maybe": expected true or false`},
		{name: "store gc default", env: map[string]string{}, check: func(s Settings) bool {
			return s.StoreGC == storegc.Options{Enabled: true, MaxSize: storegc.DefaultMaxSize}
		}},
		{name: "store gc off", env: map[string]string{bpStoreGC: "false"}, check: func(s Settings) bool { return !s.StoreGC.Enabled }},
		{name: "store gc bad", env: map[string]string{bpStoreGC: "sometimes"}, err: `BP_NIX_GC="sometimes": expected true or false`},
		{name: "cache max size", env: map[string]string{bpCacheMaxSize: "500MB"}, check: func(s Settings) bool { return s.StoreGC.MaxSize == 500e6 }},
		{name: "cache max size bad", env: map[string]string{bpCacheMaxSize: "lots"}, err: `BP_NIX_CACHE_MAX_SIZE: invalid size "lots"`},
		{name: "tarball sha without tarball", env: map[string]string{TarballSHA256Var: strings.Repeat("a", 64)}, err: "NIXBP_NIX_TARBALL_SHA256 is set but NIXBP_NIX_TARBALL is not"},
		{name: "tarball relative", env: map[string]string{TarballVar: "nix.tar.xz"}, err: "expected an absolute path"},
		{name: "tarball bad sha", env: map[string]string{TarballVar: "/n.tar.xz", TarballSHA256Var: "abc"}, err: "expected 64 hexadecimal digits"},
		{name: "tarball file URL", env: map[string]string{TarballVar: "file:///n.tar.xz", TarballSHA256Var: "sha256:" + strings.Repeat("A", 64)},
			check: func(s Settings) bool {
				return s.Tarball == LocalTarball{Path: "/n.tar.xz", SHA256: strings.Repeat("a", 64)}
			}},
		{name: "bad flags named", env: map[string]string{BuildFlagsVar: "--cores 2 --bogus"}, err: "NIX_BUILD_FLAGS: unknown nix-build option --bogus"},
		{name: "bad BP args named", env: map[string]string{bpBuildArgs: "default.nix"}, err: `BP_NIX_BUILD_ARGS: "default.nix" is not a nix-build option`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := settings(tc.env)
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
				t.Fatalf("unexpected settings %+v", s)
			}
		})
	}
}

func TestS3CacheHidesKeys(t *testing.T) {
	s, err := settings(map[string]string{S3BucketVar: "b", S3KeyVar: "AKIDq7x1", S3SecretVar: "sk-z9w2", AppNameVar: "a"})
	if err != nil {
		t.Fatal(err)
	}
	for _, shown := range []string{s.S3.String(), s.S3.GoString()} {
		if strings.Contains(shown, "q7x1") || strings.Contains(shown, "z9w2") {
			t.Fatalf("S3Cache shows a key: %s", shown)
		}
	}
}

func TestLoadEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(BuildFlagsVar, "--cores 1")
	t.Setenv(StrategyVar, "userns")
	for name, value := range map[string]string{BuildFlagsVar: "--show-trace\n", "DATABASE_URL": "postgres://x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env, err := LoadEnv(dir, []string{BuildFlagsVar, StrategyVar, AppNameVar})
	if err != nil {
		t.Fatal(err)
	}
	if got := env.Get(BuildFlagsVar); got != "--show-trace" {
		t.Errorf("ENV_DIR does not win: %s=%q", BuildFlagsVar, got)
	}
	if got := env.Source(BuildFlagsVar); got != filepath.Join(dir, BuildFlagsVar) {
		t.Errorf("source = %q", got)
	}
	if got := env.Get(StrategyVar); got != "userns" {
		t.Errorf("process environment not read: %q", got)
	}
	if _, ok := env.Lookup(AppNameVar); ok {
		t.Errorf("%s is set without being anywhere", AppNameVar)
	}
	if env, err := LoadEnv(filepath.Join(dir, "missing"), []string{BuildFlagsVar}); err != nil || env.Get(BuildFlagsVar) != "--cores 1" {
		t.Errorf("a missing ENV_DIR: %v, %q", err, env.Get(BuildFlagsVar))
	}
}

func TestLoadEnvUnreadable(t *testing.T) {
	dir := t.TempDir()
	// A dangling link stands for an unreadable file even for root, who
	// reads files whatever their mode.
	if err := os.Symlink("/nonexistent/secret", filepath.Join(dir, AppNameVar)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, S3BucketVar), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := LoadEnv(dir, []string{AppNameVar})
	if err == nil || !strings.Contains(err.Error(), "unable to read config var NIX_APP_NAME from "+filepath.Join(dir, AppNameVar)) ||
		!strings.Contains(err.Error(), "make the file readable") {
		t.Fatalf("error = %v", err)
	}
	_, err = LoadEnv(dir, []string{S3BucketVar})
	if err == nil || !strings.Contains(err.Error(), "config var NIX_S3_BUCKET: "+filepath.Join(dir, S3BucketVar)+" is a directory") {
		t.Fatalf("error = %v", err)
	}
	if _, err := LoadEnv(dir, []string{StrategyVar}); err != nil {
		t.Fatalf("files of other variables are read: %v", err)
	}
}
