package nixinstall_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestNixSeesNoSecretOfTheEnvironment sets, in the buildpack's own
// environment, the secrets a platform hands a build (S3 keys, the cache's
// signing key, the old buildpacks' names, a binding root, ENV_DIR), and has
// the installed Nix read them both ways an app's code can: the evaluator's
// builtins.getEnv, and a fixed-output derivation that asks for them as
// impureEnvVars (Nix then copies them from its own environment into the
// builder's). Neither sees any; the user's proxy still reaches both.
func TestNixSeesNoSecretOfTheEnvironment(t *testing.T) {
	tarball := testenv.NixTarball(t)
	secrets := map[string]string{
		"AWS_SECRET_ACCESS_KEY":   "aws-secret-7f3a",
		"AWS_ACCESS_KEY_ID":       "aws-id-7f3a",
		"BP_NIX_CACHE_SECRET_KEY": "cache-1:c2lnbmluZy1rZXktN2YzYQ==",
		"NIXBP_CACHE_SECRET_KEY":  "cache-1:b2xkLW5hbWUtN2YzYQ==",
		"NIX_S3_SECRET":           "old-s3-secret-7f3a",
		"SERVICE_BINDING_ROOT":    "/bindings-7f3a",
		"ENV_DIR":                 "/tmp/env-7f3a",
		"CNB_PLATFORM_DIR":        "/platform-7f3a",
		"NIX_CONFIG":              "extra-substituters = https://evil-7f3a.example",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	t.Setenv("https_proxy", "http://proxy.example:3128")
	dir := filepath.Join(t.TempDir(), "nix")
	n, err := nixinstall.Ensure(dir, source(t, tarball), nixmount.UserNS, nixinstall.Conf{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range secrets {
		names = append(names, `"`+k+`"`)
	}
	list := "[ " + strings.Join(names, " ") + " ]"
	eval := `builtins.concatStringsSep "," (map builtins.getEnv (` + list + ` ++ [ "https_proxy" ]))`
	out, err := n.Command("nix-instantiate", "--eval", "-E", eval).CombinedOutput()
	if err != nil {
		t.Fatalf("nix-instantiate: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), `"`+strings.Repeat(",", len(secrets))+`http://proxy.example:3128"`; got != want {
		t.Errorf("builtins.getEnv of the secrets and https_proxy = %s, want %s", got, want)
	}

	app := t.TempDir()
	testenv.Busybox(t, app)
	// A fixed-output derivation whose output is the same whatever it reads,
	// so that it builds; what it saw goes to the build log.
	expr := `let bb = ./bb; in derivation {
	  name = "impure"; system = "x86_64-linux"; builder = "${bb}/bin/sh"; PATH = "${bb}/bin";
	  impureEnvVars = ` + list + ` ++ [ "https_proxy" ];
	  args = [ "-c" "env | sort >&2; : > $out" ];
	  outputHashMode = "flat"; outputHashAlgo = "sha256";
	  outputHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	}`
	if err := os.WriteFile(filepath.Join(app, "impure.nix"), []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = n.Command("nix-build", "--no-out-link", filepath.Join(app, "impure.nix")).CombinedOutput()
	if err != nil {
		t.Fatalf("nix-build: %v\n%s", err, out)
	}
	for k, v := range secrets {
		if strings.Contains(string(out), v) {
			t.Errorf("the builder saw %s:\n%s", k, out)
		}
	}
	if !strings.Contains(string(out), "https_proxy=http://proxy.example:3128") {
		t.Errorf("the fixed-output builder did not get the user's proxy:\n%s", out)
	}
}
