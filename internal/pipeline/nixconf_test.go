package pipeline

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/caching"
	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

func TestNixConf(t *testing.T) {
	open := func(u string) *cache.Cache {
		c, err := cache.Open(context.Background(), u, cache.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	caches := caching.Caches{Write: open("file:///srv/cache"),
		Read: []*cache.Cache{open("https://cache.example.org"), open("s3://bucket/apps"), open("https://u:p@private.example.org")}}
	dir := t.TempDir()
	tests := []struct {
		name  string
		in    Input
		app   config.App
		entry string
		extra []string
		logs  []string
		err   string
	}{
		{name: "setting, caches without a trusted key",
			in:  Input{Nixpkgs: "channel:nixos-24.11", Caches: caches, NixConf: nixinstall.Conf{Substituters: []string{nixinstall.CacheNixOSOrg}}},
			app: config.App{Dir: dir}, entry: "https://nixos.org/channels/nixos-24.11/nixexprs.tar.xz",
			logs: []string{"<nixpkgs> is channel:nixos-24.11", "from BP_NIX_NIXPKGS", nixinstall.PinHint,
				"file:///srv/cache is not a substituter for nix-build: Nix takes only signed paths",
				"Substituters: https://cache.nixos.org (1 trusted keys"}},
		{name: "hop3.toml wins; signed caches are substituters",
			in: Input{Nixpkgs: "channel:nixos-24.11", Caches: caches,
				NixConf: nixinstall.Conf{TrustedPublicKeys: []string{"mine-1:AAAA"}}},
			app:   config.App{Dir: dir, Nixpkgs: "https://github.com/NixOS/nixpkgs/archive/0123456789abcdef0123456789abcdef01234567.tar.gz", NixpkgsKey: "hop3.toml:3 [build.nix] nixpkgs"},
			entry: "https://github.com/NixOS/nixpkgs/archive/0123456789abcdef0123456789abcdef01234567.tar.gz",
			extra: []string{"file:///srv/cache", "https://cache.example.org"},
			logs: []string{"from hop3.toml:3 [build.nix] nixpkgs", "s3://bucket/apps is not a substituter for nix-build: this Nix has no S3 support",
				"is not a substituter for nix-build: Nix reads credentials from netrc"}},
		{name: "flake: no <nixpkgs>", in: Input{Nixpkgs: "channel:nixos-24.11"},
			app:  config.App{Dir: dir, Flake: true, Nixpkgs: "channel:x", NixpkgsKey: "hop3.toml:2 [build.nix] nixpkgs"},
			logs: []string{"hop3.toml:2 [build.nix] nixpkgs is not applied", "Substituters: none"}},
		{name: "empty setting", in: Input{}, app: config.App{Dir: dir}, logs: []string{"<nixpkgs> is not set"}},
		{name: "bad setting named", in: Input{Nixpkgs: "vendored/nixpkgs"}, app: config.App{Dir: dir},
			err: "BP_NIX_NIXPKGS: \"vendored/nixpkgs\": "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.in.Log = log.NewPaketoLogger(&buf)
			s, err := nixConf(tt.in, tt.app)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("nixConf error = %v; want %q", err, tt.err)
				}
				return
			}
			if err != nil || s.Nixpkgs.Entry != tt.entry || !reflect.DeepEqual(s.ExtraSubstituters, tt.extra) {
				t.Fatalf("nixConf = %+v, %v; want entry %q, extra %q", s, err, tt.entry, tt.extra)
			}
			for _, want := range tt.logs {
				if !strings.Contains(buf.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, buf.String())
				}
			}
		})
	}
}
