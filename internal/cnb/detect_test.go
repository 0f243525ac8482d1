package cnb_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/cnb"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

func TestDetect(t *testing.T) {
	fixtures := filepath.Join(testenv.RepoRoot(), "fixtures", "apps")
	empty := t.TempDir()
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "hop3.toml"), []byte("[build]\nbuilder = \"docker\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, app string
		pass      bool
		file, err string
	}{
		{name: "hop3.nix", app: filepath.Join(fixtures, "hello-web"), pass: true, file: "hop3.nix"},
		{name: "no expression", app: empty, pass: false},
		{name: "another builder", app: other, pass: false},
		{name: "malformed hop3.toml", app: filepath.Join(fixtures, "bad-toml"), err: "hop3.toml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			res, err := cnb.NewDetect(log.NewPaketoLogger(&out))(libcnb.DetectContext{ApplicationPath: tc.app})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || res.Pass != tc.pass {
				t.Fatalf("pass = %v, %v; want %v", res.Pass, err, tc.pass)
			}
			if !tc.pass {
				return
			}
			req := res.Plans[0].Requires[0]
			if res.Plans[0].Provides[0].Name != cnb.PlanEntry || req.Name != cnb.PlanEntry || req.Metadata["file"] != tc.file {
				t.Fatalf("plan = %+v", res.Plans)
			}
		})
	}
}
