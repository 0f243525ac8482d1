package nixgen_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixgen"
	"github.com/nix-buildpack/nix-buildpack/internal/nixspec"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

const fetched = "url = \"https://example.org/app-${version}.tar.gz\"\nsha256 = \"0hbgzbg38ky1gcs8czbhdw11naarlz81mvmvyzx44kw0l367s60g\"\n"

// minimal is the least each template needs.
var minimal = map[string]string{
	"nixpkgs-wrapper":   "nixpkgs-package = \"hello\"\nexec-target = \"hello\"\n",
	"prebuilt-binary":   fetched + "executable = true\nbinary-name = \"app\"\n",
	"prebuilt-archive":  fetched + "archive = \"tar-gz\"\nexec-target = \"app\"\n[[nix.file-mappings]]\nsource = \"bin/app\"\ndestination = \"bin/\"\n",
	"node-prebuilt":     fetched + "archive = \"tar-gz\"\nexec-target = \"server.js\"\n",
	"java-war":          fetched + "war-file = \"app.war\"\nexec-target = \"java\"\n",
	"python-venv":       "pip-requirements = \"requirements.txt\"\npip-deps-hash = \"sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\nexec-target = \"app\"\n",
	"php-app":           fetched + "archive = \"tar-gz\"\nphp-extensions = [\"pdo\", \"intl\"]\nneeds-writable-dir = true\n",
	"go-source":         "go-vendor-hash = \"none\"\nexec-target = \"app\"\ngo-frontend-build = \"npx webpack\"\ngo-npm-deps-hash = \"sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n",
	"node-pnpm-install": "npm-package = \"app\"\nnode-manifest = \"package.json\"\nnode-lockfile = \"pnpm-lock.yaml\"\nnode-deps-hash = \"sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\nexec-target = \"app\"\n",
	"java-gradle":       fetched + "gradle-jar-glob = \"build/libs/app-*.jar\"\ngradle-jar-name = \"app.jar\"\nexec-target = \"java\"\n",
	"ruby-bundler":      "exec-target = \"rails\"\nwritable-home-at-runtime = true\n",
}

// TestEveryTemplate generates each template with the least it needs and
// with the shared tables, and has Nix's parser accept it.
func TestEveryTemplate(t *testing.T) {
	nixInstantiate := testenv.Require(t, "nix-instantiate")
	shared := "pre-exec = ['mkdir -p data', \"echo ''quoted''\"]\nextra-paths = ['${pkgs.busybox}/bin']\nnix-runtime-libs = [\"stdenv.cc.cc.lib\"]\n" +
		"[nix.local-vars]\nPORT = \"${PORT:-8080}\"\n[nix.env-exports]\nA = \"$PWD/a\"\n[nix.runtime-env]\nMODE = \"prod\"\n" +
		"[[nix.conditional-env]]\nname = \"DATABASE_URL\"\nvalue = \"postgres://${PGHOST}\"\n" +
		"[[nix.config-files]]\npath = \"conf/app.ini\"\nformat = \"ini\"\ncreate-if-missing = true\n[nix.config-files.sections.server]\nport = \"${PORT}\"\n"
	if len(minimal) != len(nixspec.Templates) {
		t.Fatalf("minimal covers %d templates of %d", len(minimal), len(nixspec.Templates))
	}
	for _, name := range nixspec.Templates {
		t.Run(name, func(t *testing.T) {
			keys, tables, _ := strings.Cut(minimal[name], "[[") // tables after the keys, as TOML wants
			if tables != "" {
				tables = "[[" + tables
			}
			toml := "[metadata]\nid = \"demo\"\nversion = \"1.0\"\n\n[nix]\ntemplate = \"" + name + "\"\n" + keys + shared + tables
			s, err := nixspec.Parse([]byte(toml), "hop3.toml", nixspec.DefaultName)
			if err != nil {
				t.Fatalf("Parse() error = %v\n%s", err, toml)
			}
			text, err := nixgen.Generate(s, nixgen.Options{})
			if err != nil {
				t.Fatalf("Generate() error = %v", err)
			}
			for _, want := range []string{nixspec.NixpkgsRev, nixspec.NixpkgsSHA256, "hop3/runtime.json", `export A="$PWD/a"`,
				`if [ -z "$DATABASE_URL" ]`, "cat > conf/app.ini << EOF", `"MODE": "prod"`, "echo '''quoted'''"} {
				if !strings.Contains(text, want) {
					t.Errorf("the expression lacks %q", want)
				}
			}
			p := filepath.Join(t.TempDir(), "hop3.nix")
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(nixInstantiate, "--parse", p).CombinedOutput(); err != nil {
				t.Fatalf("nix-instantiate --parse: %v\n%s\n%s", err, out, text)
			}
		})
	}
}

// TestGenerateErrors: what a template needs and does not have is refused
// when its expression is generated, naming the key (and its line where
// hop3.toml sets it). Parse accepts each, so the refusal is the
// template's.
func TestGenerateErrors(t *testing.T) {
	tests := []struct{ name, toml, err string }{
		{"bad archive", "[nix]\ntemplate = \"prebuilt-archive\"\n" + fetched + "archive = \"rar\"\nexec-target = \"a\"\n[[nix.file-mappings]]\nsource = \"a\"\ndestination = \"bin/\"\n",
			`hop3.toml:5: [nix] archive "rar" is not one Hop3 unpacks`},
		{"missing template key", "[nix]\ntemplate = \"prebuilt-binary\"\n" + fetched, "hop3.toml:1: the prebuilt-binary template needs [nix] binary-name"},
		{"missing url", "[nix]\ntemplate = \"java-war\"\nwar-file = \"a.war\"\nexec-target = \"java\"\n", "the java-war template fetches its source: set [nix] url and sha256"},
		{"missing exec-target", "[nix]\ntemplate = \"nixpkgs-wrapper\"\nnixpkgs-package = \"hello\"\n", "the nixpkgs-wrapper template needs [nix] exec-target"},
		{"serve-mode", "[nix]\ntemplate = \"php-app\"\n" + fetched + "archive = \"tar-gz\"\nserve-mode = \"fpm\"\n", `hop3.toml:6: [nix] serve-mode "fpm" is not one of builtin, artisan, custom`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := nixspec.Parse([]byte(tt.toml), "hop3.toml", nixspec.DefaultName)
			if err != nil {
				t.Fatalf("Parse() error = %v; want it to accept the table", err)
			}
			if _, err = nixgen.Generate(s, nixgen.Options{}); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Generate() error = %v; want it to contain %q", err, tt.err)
			}
		})
	}
}

// TestTiers: every template has Hop3's tier (ADR 008's table).
func TestTiers(t *testing.T) {
	for _, name := range nixspec.Templates {
		if tier, note := nixgen.Tier(name); tier < 1 || tier > 3 || note == "" {
			t.Errorf("Tier(%q) = %d, %q", name, tier, note)
		}
	}
	if tier, _ := nixgen.Tier("prebuilt-binary"); tier != 3 {
		t.Errorf("prebuilt-binary is tier %d, want 3", tier)
	}
}
