package nixenv

import (
	"slices"
	"strings"
	"testing"
)

func TestFrom(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin", "HOME=/home/cnb", "AWS_SECRET_ACCESS_KEY=s3cr3t", "BP_NIX_CACHE_SECRET_KEY=k:abc",
		"NIX_S3_SECRET=old", "NIXBP_CACHE_SECRET_KEY=k:def", "CNB_PLATFORM_DIR=/platform", "ENV_DIR=/tmp/env",
		"SERVICE_BINDING_ROOT=/bindings", "https_proxy=http://proxy:3128", "NIX_CONFIG=access-tokens = github.com=tok",
		"NIX_PATH=nixpkgs=/evil", "TMPDIR=/tmp/t", "MALFORMED", "=empty",
	}
	for _, tc := range []struct {
		name    string
		allowed []string
		set     []string
		want    []string
	}{
		{name: "build", allowed: inherited, set: []string{"HOME=/nix/var/nixbp/home", "NIX_PATH=nixpkgs=/ours"},
			want: []string{"PATH=/usr/bin", "https_proxy=http://proxy:3128", "TMPDIR=/tmp/t", "HOME=/nix/var/nixbp/home", "NIX_PATH=nixpkgs=/ours"}},
		{name: "set wins over environ", allowed: inherited, set: []string{"TMPDIR=/ours"},
			want: []string{"PATH=/usr/bin", "https_proxy=http://proxy:3128", "TMPDIR=/ours"}},
		{name: "host", allowed: append(append([]string{}, inherited...), hostNix...),
			want: []string{"PATH=/usr/bin", "HOME=/home/cnb", "https_proxy=http://proxy:3128", "NIX_CONFIG=access-tokens = github.com=tok", "TMPDIR=/tmp/t"}},
		{name: "nothing allowed", want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := From(environ, tc.allowed, tc.set)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("From = %q\nwant   %q", got, tc.want)
			}
		})
	}
}

// TestNoSettingIsInherited: no name the buildpack reads as a setting (nor
// a secret of any kind) is on either allow-list.
func TestNoSettingIsInherited(t *testing.T) {
	for _, name := range append(append([]string{}, inherited...), hostNix...) {
		for _, prefix := range []string{"BP_", "NIXBP_", "CNB_", "AWS_", "SERVICE_BINDING", "ENV_DIR", "NIX_S3", "NIX_APP", "NIX_BUILD", "NIX_STRATEGY", "NIX_EXTRA"} {
			if strings.HasPrefix(name, prefix) {
				t.Errorf("%s is inherited by Nix commands; it is the buildpack's or the platform's", name)
			}
		}
	}
	// The build's Nix is configured by the buildpack alone: an app's
	// platform cannot add substituters or <nixpkgs> behind its back.
	for _, name := range inherited {
		if name == "NIX_CONFIG" || name == "NIX_PATH" || name == "HOME" || name == "NIX_CONF_DIR" {
			t.Errorf("%s is inherited by the build's Nix", name)
		}
	}
}

func TestBuildDropsTheProcessEnvironment(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-from-the-platform")
	t.Setenv("BP_NIX_CACHE_SECRET_KEY", "cache-1:c2VjcmV0")
	t.Setenv("http_proxy", "http://proxy.example:3128")
	for name, env := range map[string][]string{"Build": Build("HOME=/h"), "Host": Host()} {
		joined := strings.Join(env, "\n")
		if strings.Contains(joined, "s3cr3t") || strings.Contains(joined, "c2VjcmV0") {
			t.Errorf("%s passes a secret:\n%s", name, joined)
		}
		if !slices.Contains(env, "http_proxy=http://proxy.example:3128") {
			t.Errorf("%s drops the user's proxy:\n%s", name, joined)
		}
	}
}
