package pipeline_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/cnb"
	"github.com/nix-buildpack/nix-buildpack/internal/heroku"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// summary is what a pipeline input means, comparable across front-ends.
type summary struct {
	Strategy, Settings, Nixpkgs, FlakeAttr, Build, Prune, GC, Write, Read, Policy, Nix string
}

func summarize(in pipeline.Input) summary {
	s := summary{Strategy: string(in.Strategy), Settings: fmt.Sprintf("%+v", in.NixConf),
		Nixpkgs: in.Nixpkgs, FlakeAttr: in.FlakeAttr, Build: fmt.Sprintf("%+v", in.Build), Prune: fmt.Sprintf("%+v", in.Prune), GC: fmt.Sprintf("%+v", in.StoreGC),
		Policy: string(in.Caches.Policy), Nix: in.Installer.Version + " " + in.Installer.Checksum}
	if in.Caches.Write != nil {
		s.Write = in.Caches.Write.String()
	}
	for _, r := range in.Caches.Read {
		s.Read += r.String() + " "
	}
	return s
}

// TestFrontEndsAgree runs the same settings through the CNB and the
// Heroku-style front-ends and checks that they hand the pipeline the same
// input, or fail with the same error.
func TestFrontEndsAgree(t *testing.T) {
	repo := testenv.RepoRoot()
	var bp libcnb.Buildpack
	if _, err := toml.DecodeFile(filepath.Join(repo, "buildpack.toml"), &bp); err != nil {
		t.Fatal(err)
	}
	bp.Path = repo
	tarball := filepath.Join(t.TempDir(), "nix-2.99.0-x86_64-linux.tar.xz")
	if err := os.WriteFile(tarball, []byte("not really a tarball"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := nixinstall.FileSHA256(tarball)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		err  string
	}{
		{name: "defaults"},
		{name: "everything", env: map[string]string{"BP_NIX_STRATEGY": "proot", "BP_NIX_BUILD_ARGS": "--cores 2 --show-trace",
			"BP_NIX_SUBSTITUTERS": "https://c.example.org", "BP_NIX_TRUSTED_PUBLIC_KEYS": "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=",
			"BP_NIX_CACHE": "file:///srv/rw", "BP_NIX_CACHES": "https://ro.example.org", "NIX_EXTRA_BINARY_CACHE": "file:///srv/ro",
			"BP_NIX_BUILD_POLICY": "always", "BP_NIX_PRUNE_GUARD": "false", "BP_NIX_PRUNE_EMPTY_DIRS": "true", "BP_NIX_SIZE_LIMIT": "1MB",
			"BP_NIX_GC": "false", "BP_NIX_CACHE_MAX_SIZE": "1GiB", "BP_NIX_NIXPKGS": "channel:nixos-24.05",
			"BP_NIX_EXTRA_SUBSTITUTERS": "https://extra.example.org", "BP_NIX_EXTRA_TRUSTED_PUBLIC_KEYS": "extra-1:AAAA",
			"BP_NIX_FLAKE_ATTR": "web", "BP_NIX_BUILD_TIMEOUT": "1h", "BP_NIX_MAX_SILENT_TIME": "600"}},
		{name: "no substituters", env: map[string]string{"BP_NIX_SUBSTITUTERS": "none"}},
		{name: "bad time limit", env: map[string]string{"BP_NIX_BUILD_TIMEOUT": "soon"}, err: `BP_NIX_BUILD_TIMEOUT="soon": expected seconds`},
		{name: "old names", env: map[string]string{"NIX_STRATEGY": "userns", "NIX_BUILD_FLAGS": "--keep-going", "NIX_BUILD_ON_PUSH": "0",
			"NIX_S3_BUCKET": "bkt", "NIX_APP_NAME": "web", "NIX_S3_KEY": "AK", "NIX_S3_SECRET": "SK"}},
		{name: "local tarball", env: map[string]string{"NIXBP_NIX_TARBALL": tarball, "BP_NIX_TARBALL_SHA256": sum}},
		{name: "local tarball not the pin", env: map[string]string{"NIXBP_NIX_TARBALL": tarball}, err: "does not match the buildpack.toml pin"},
		{name: "typo in a boolean", env: map[string]string{"BP_NIX_PRUNE_GUARD": "ture"}, err: `BP_NIX_PRUNE_GUARD="ture": expected true or false`},
		{name: "attribute in build args", env: map[string]string{"BP_NIX_BUILD_ARGS": "-A x"}, err: "option -A is not allowed here"},
		{name: "S3 without app name", env: map[string]string{"NIX_S3_BUCKET": "bkt"}, err: `NIX_APP_NAME="": not set, but NIX_S3_BUCKET is set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range []string{"BP_NIX_STRATEGY", "NIX_STRATEGY", "BP_NIX_BUILD_ARGS", "NIX_BUILD_FLAGS", "BP_NIX_CACHE", "NIX_S3_BUCKET",
				"AWS_ACCESS_KEY_ID", "BP_NIX_BUILD_POLICY", "NIX_BUILD_ON_PUSH", "BP_NIX_TARBALL", "NIXBP_NIX_TARBALL"} {
				t.Setenv(s, "")
				os.Unsetenv(s)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			app := t.TempDir()
			var logs bytes.Buffer
			logger := log.NewPaketoLogger(&logs)
			ctx := libcnb.BuildContext{ApplicationPath: app, Buildpack: bp}
			cnbIn, _, cnbErr := cnb.Input(ctx, filepath.Join(app, ".nix"), logger)
			herokuIn, _, herokuErr := heroku.Input(heroku.Dirs{Build: app, Cache: filepath.Join(app, ".cache")}, repo, logger)
			if tc.err != "" {
				for _, err := range []error{cnbErr, herokuErr} {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Errorf("error = %v, want %q", err, tc.err)
					}
				}
				return
			}
			if cnbErr != nil || herokuErr != nil {
				t.Fatalf("CNB: %v\nHeroku: %v\n%s", cnbErr, herokuErr, logs.String())
			}
			if c, h := summarize(cnbIn), summarize(herokuIn); !reflect.DeepEqual(c, h) {
				t.Fatalf("the front-ends disagree:\nCNB:    %+v\nHeroku: %+v", c, h)
			}
		})
	}
}
