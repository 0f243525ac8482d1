package nixbuild_test

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixbuild"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// TestAttributesRealiseTheirContext: a worker that names a store path other
// than package's (its server) gets that path realised and returned, as do
// the paths env and path name; the package itself need not be built.
func TestAttributesRealiseTheirContext(t *testing.T) {
	n := installed(t, nixinstall.Conf{})
	a := app(t, "hop3.nix", map[string]string{"hop3.nix": `let
  bb = ./bb;
  server = ` + drv("adr-server", "mkdir -p $out/bin; ln -s ${bb}/bin/busybox $out/bin/httpd") + `;
  tools = ` + drv("adr-tools", "mkdir -p $out/bin; echo tool > $out/bin/tool") + `;
  package = ` + drv("adr-site", "mkdir -p $out/www; echo hi > $out/www/index.html") + `;
in {
  inherit package;
  workers.web = "${server}/bin/httpd -f -p $PORT -h ${package}/www";
  env = { TOOLS = "${tools}/bin"; PLAIN = "x"; };
  path = [ "${bb}/bin" ];
}`})
	attrs, err := nixbuild.Attributes(n, a, nixbuild.Options{}, io.Discard)
	if err != nil {
		t.Fatalf("Attributes: %v", err)
	}
	var value struct {
		Workers map[string]string `json:"workers"`
		Env     map[string]string `json:"env"`
	}
	if err := json.Unmarshal(attrs.JSON, &value); err != nil || !strings.Contains(value.Workers["web"], "-adr-server/bin/httpd") ||
		value.Env["PLAIN"] != "x" {
		t.Fatalf("Attributes JSON = %s, %v", attrs.JSON, err)
	}
	names := map[string]string{}
	for _, p := range attrs.StorePaths {
		name := filepath.Base(p)[33:]
		names[name] = p
		if _, err := os.Lstat(filepath.Join(n.Dir, "store", filepath.Base(p))); err != nil {
			t.Errorf("%s is not in the store: %v", p, err)
		}
	}
	for _, want := range []string{"adr-server", "adr-tools", "adr-site", "bb"} {
		if names[want] == "" {
			t.Errorf("Attributes StorePaths = %q; want one named %s", attrs.StorePaths, want)
		}
	}
	if len(attrs.StorePaths) != 4 {
		t.Errorf("Attributes StorePaths = %q; want 4", attrs.StorePaths)
	}
	// A collection keeps them: they are GC roots.
	if out, err := n.Command("nix-store", "--gc").CombinedOutput(); err != nil {
		t.Fatalf("nix-store --gc: %v\n%s", err, out)
	}
	for _, p := range attrs.StorePaths {
		if _, err := os.Lstat(filepath.Join(n.Dir, "store", filepath.Base(p))); err != nil {
			t.Errorf("%s was collected: %v", p, err)
		}
	}

	none := app(t, "hop3.nix", map[string]string{"hop3.nix": `let bb = ./bb; in { package = ` + drv("p", "echo > $out") + `; }`})
	if attrs, err := nixbuild.Attributes(n, none, nixbuild.Options{}, io.Discard); err != nil || attrs.JSON != nil || attrs.StorePaths != nil {
		t.Fatalf("Attributes without workers = %+v, %v; want zero", attrs, err)
	}
	if _, err := os.Stat(filepath.Join(n.Dir, nixbuild.RootsDir)); !os.IsNotExist(err) {
		t.Fatalf("the roots of the previous app's attributes are still there: %v", err)
	}
}

// TestFlake builds a flake's default output and another one by attribute,
// and evaluates its derivation, without writing a flake.lock into the app.
func TestFlake(t *testing.T) {
	n := installed(t, nixinstall.Conf{})
	flake := `{
  outputs = { self }: let bb = ./bb; in {
    packages.x86_64-linux.default = ` + drv("flake-web", "mkdir -p $out/hop3; echo default > $out/which") + `;
    packages.x86_64-linux.other = ` + drv("flake-other", "mkdir -p $out; echo other > $out/which") + `;
  };
}`
	a := app(t, "flake.nix", map[string]string{"flake.nix": flake})
	for _, tt := range []struct{ attr, want string }{{"", "default"}, {"other", "other"}, {"packages.x86_64-linux.other", "other"}} {
		a.Attr = tt.attr
		var log strings.Builder
		out, err := nixbuild.Build(n, a, nixbuild.Options{}, &log)
		if err != nil {
			t.Fatalf("Build of the flake (attr %q): %v\n%s", tt.attr, err, log.String())
		}
		if !strings.Contains(log.String(), "nix --extra-experimental-features 'nix-command flakes' build path:"+a.Dir+"#") {
			t.Fatalf("the log does not show the nix build command with flakes on for it alone:\n%s", log.String())
		}
		if data, _ := os.ReadFile(filepath.Join(n.Dir, "store", filepath.Base(out), "which")); strings.TrimSpace(string(data)) != tt.want {
			t.Fatalf("attr %q built %s with %q; want %q", tt.attr, out, data, tt.want)
		}
		drvPath, err := nixbuild.Instantiate(n, a)
		if err != nil || !strings.HasSuffix(drvPath, ".drv") {
			t.Fatalf("Instantiate(flake, attr %q) = %q, %v", tt.attr, drvPath, err)
		}
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "flake.lock")); !os.IsNotExist(err) {
		t.Fatalf("the build wrote flake.lock into the app: %v", err)
	}
	a.Attr = "missing"
	if _, err := nixbuild.Build(n, a, nixbuild.Options{}, io.Discard); err == nil || !strings.Contains(err.Error(), "flake.nix: nix build failed") ||
		!strings.Contains(err.Error(), "nix build .#missing") {
		t.Fatalf("Build of a missing flake output: %v", err)
	}
}
