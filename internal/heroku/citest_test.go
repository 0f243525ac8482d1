package heroku

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestCITest runs bin/test's checks on a slug whose web process is busybox
// httpd started by bash from the Procfile, with .profile.d sourced: the
// validations of hop3.toml pass or fail as the server answers, in TAP.
func TestCITest(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		testenv.Missing(t, "bash is not installed")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		testenv.Missing(t, "busybox-static is not installed")
	}
	slug := func(t *testing.T, validations string) string {
		dir := t.TempDir()
		files := map[string]string{
			"www/index.html":     "<h1>Hello World!</h1>\n",
			".profile.d/site.sh": "export SITE=\"$PWD/www\"\n",
			// Shaped like the Procfile compile writes: the launcher, from
			// the directory .profile.d names.
			".nix/bin/nixbp-launch": "#!/bin/sh\nexec /bin/busybox httpd -f -p \"127.0.0.1:$PORT\" -h \"$SITE\"\n",
			".profile.d/nix.sh":     "export NIXBP_NIX_DIR=\"$PWD/.nix\"\n",
			"Procfile":              "web: $NIXBP_NIX_DIR/bin/nixbp-launch --nix-dir \"$NIXBP_NIX_DIR\" --static www\n",
			"hop3.toml":             "[build]\nbuilder = \"nix\"\n\n[test]\npriority = \"P1\"\n" + validations,
		}
		for p, c := range files {
			if err := writeFile(filepath.Join(dir, p), c, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	for _, tc := range []struct {
		name, validations string
		pass              bool
		tap               []string
	}{
		{name: "no validations", pass: true, tap: []string{"1..0 # SKIP no [[test.validations]] in hop3.toml"}},
		{name: "Hop3's static-hello", pass: true,
			validations: "[[test.validations]]\npath = \"/\"\nstatus = 200\ncontains = \"Hello World\"\n",
			tap:         []string{"1..1", `ok 1 - GET / answers [200] containing "Hello World"`}},
		{name: "failing and skipped", pass: false,
			validations: "[[test.validations]]\npath = \"/missing\"\n\n[[test.validations]]\npath = \"/\"\nstatus-in = [200, 301]\n" +
				"contains = \"Goodbye\"\n\n[[test.validations]]\ntype = \"tcp\"\npath = \"/\"\n",
			tap: []string{"1..3", "not ok 1 - GET /missing answers [200]", "  # got status 404",
				`not ok 2 - GET / answers [200 301] containing "Goodbye"`, "ok 3 - tcp validation of / # SKIP"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, log strings.Builder
			pass, err := CITest(slug(t, tc.validations), &out, &log)
			if err != nil || pass != tc.pass {
				t.Fatalf("CITest = %t, %v; want %t\nTAP:\n%s\nlog:\n%s", pass, err, tc.pass, out.String(), log.String())
			}
			for _, w := range tc.tap {
				if !strings.Contains(out.String(), w) {
					t.Errorf("TAP lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
