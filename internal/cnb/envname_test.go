package cnb

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildpacks/libcnb/v2"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
)

// TestEnvNamesStayInTheLayer: libcnb writes each launch variable to the
// file <layer>/env.launch/<name>.<action>, joining the name into the path,
// so a name like ../../x would write outside the layer. setEnv does not
// check names itself: both places a name comes from (runtime.json env, and
// hop3.toml [env]) refuse one that is not a variable name, naming it; and
// every name they accept makes a file name with no directory in it.
func TestEnvNamesStayInTheLayer(t *testing.T) {
	for _, name := range []string{"../../x", "../x", "a/b", "/etc/x", "..", "X.override", "A-B", ""} {
		t.Run(name, func(t *testing.T) {
			doc := fmt.Sprintf(`{"workers": {"web": "x"}, "env": {%q: "v"}}`, name)
			if _, err := runtimejson.Parse([]byte(doc), "runtime.json"); err == nil ||
				!strings.Contains(err.Error(), fmt.Sprintf("env key %q is not an environment variable name", name)) {
				t.Errorf("runtime.json env %q: error %v, want it refused by name", name, err)
			}
			dir := t.TempDir()
			toml := fmt.Sprintf("[env]\n%q = \"v\"\n", name)
			if err := os.WriteFile(filepath.Join(dir, "hop3.toml"), []byte(toml), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := config.ReadRun(dir); err == nil || !strings.Contains(err.Error(), "is not an environment variable name") {
				t.Errorf("hop3.toml [env] %q: error %v, want it refused by name", name, err)
			}
		})
	}
	rt, err := runtimejson.Parse([]byte(`{"workers": {"web": "x"}, "env": {"A_1": "v", "_B": "w", "PORT": "1"}, "path": ["/nix/store/a/bin"]}`), "runtime.json")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := process.Describe(rt, process.Declared{Env: map[string]string{"C": "toml"}, TOML: "hop3.toml"}, process.Launcher{Path: "/l", NixDir: "/n"})
	if err != nil {
		t.Fatal(err)
	}
	layer := libcnb.Layer{LaunchEnvironment: libcnb.Environment{}}
	setEnv(&layer, pipeline.Result{Runtime: rt, Env: plan.Env})
	if len(layer.LaunchEnvironment) < 6 {
		t.Fatalf("launch environment %v lacks variables", layer.LaunchEnvironment)
	}
	for file := range layer.LaunchEnvironment {
		if filepath.Base(file) != file || strings.HasPrefix(file, ".") {
			t.Errorf("launch variable file %q is not a plain file name inside env.launch", file)
		}
	}
}
