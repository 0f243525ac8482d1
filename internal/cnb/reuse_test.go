package cnb

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/caching"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

const (
	reuseOutput = "/nix/store/yqlwanrjjwhz6vyc3md12867ajm6g8m9-hello-web"
	reuseBB     = "/nix/store/b8zzzm23p9pd6h8zbaiz806gqid7q81v-bb"
)

// previousLayers writes the layers' TOML as the lifecycle's restorer does
// from the previous image's label on a fresh pod: metadata, no contents.
func previousLayers(t *testing.T, dir string, view map[string]string, launcherSum string, stores map[string]map[string]string) {
	t.Helper()
	layers := map[string]map[string]string{viewLayerName: view, launcherLayerName: {"sha256": launcherSum}}
	for name, md := range stores {
		layers[name] = md
	}
	for name, md := range layers {
		f, err := os.Create(filepath.Join(dir, name+".toml"))
		if err != nil {
			t.Fatal(err)
		}
		err = toml.NewEncoder(f).Encode(map[string]any{"types": map[string]bool{"launch": true}, "metadata": md})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestReusePrevious(t *testing.T) {
	rt, _ := json.Marshal(runtimejson.Runtime{Workers: map[string]runtimejson.Worker{"web": {Command: "busybox httpd -f -h " + reuseOutput + "/www"}}})
	goodView := func() map[string]string {
		return map[string]string{"output": reuseOutput, "slugexclude": "x1", "launcher": "0.1.0", "source": "src1",
			"settings": "set1", "runtime": string(rt), "closure": reuseOutput + " " + reuseBB,
			"store-layers": "store-a store-b"}
	}
	goodStores := func() map[string]map[string]string {
		return map[string]map[string]string{"store-a": {"paths": reuseBB, "slugexclude": "x1"},
			"store-b": {"paths": reuseOutput, "slugexclude": "x1"}}
	}
	tests := []struct {
		name      string
		edit      func(view map[string]string, stores map[string]map[string]string)
		pointer   string // output the cache's pointer names; "" for no pointer
		launcher  string // the launcher layer's recorded digest; "" for this buildpack's
		policy    settings.Policy
		wantReuse bool
		// why is what the log says when the layers are not reused.
		why string
	}{
		{name: "all match", pointer: reuseOutput, wantReuse: true},
		{name: "no pointer in the cache", wantReuse: false, why: "no cache's source pointer for this source names its output " + reuseOutput},
		{name: "pointer names another output", pointer: "/nix/store/00000000000000000000000000000000-other", wantReuse: false, why: "no cache's source pointer"},
		{name: "source changed", pointer: reuseOutput, edit: func(v map[string]string, _ map[string]map[string]string) { v["source"] = "src0" }, why: "source digest changed (src0 -> src1)"},
		{name: "settings changed", pointer: reuseOutput, edit: func(v map[string]string, _ map[string]map[string]string) { v["settings"] = "set0" }, why: "settings digest changed (set0 -> set1)"},
		{name: "buildpack version changed", pointer: reuseOutput, edit: func(v map[string]string, _ map[string]map[string]string) { v["launcher"] = "0.0.9" }, why: "buildpack version changed (0.0.9 -> 0.1.0)"},
		{name: "launcher binary changed", pointer: reuseOutput, launcher: "0123", why: "launcher binaries changed (0123 -> "},
		{name: "store layer missing", pointer: reuseOutput, edit: func(_ map[string]string, s map[string]map[string]string) { delete(s, "store-b") }, why: "store layer store-b has no metadata"},
		{name: "store layer pruned otherwise", pointer: reuseOutput, edit: func(_ map[string]string, s map[string]map[string]string) { s["store-a"]["slugexclude"] = "x0" }, why: "store layer store-a was pruned by another .slugexclude (x0, the view's x1)"},
		{name: "no runtime recorded (older buildpack)", pointer: reuseOutput, edit: func(v map[string]string, _ map[string]map[string]string) { delete(v, "runtime") }, why: "the view layer records no readable runtime"},
		{name: "build policy always", pointer: reuseOutput, policy: settings.BuildAlways, why: "the build policy is always"},
		{name: "relocated image", pointer: reuseOutput, wantReuse: true, edit: func(v map[string]string, s map[string]map[string]string) {
			v["relocated"] = "/tmp/.nixs"
			for _, md := range s {
				md["relocated"] = "/tmp/.nixs"
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			layersDir, bpDir, cacheDir, appDir := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
			// A Procfile's worker joins runtime.json's, as the pipeline
			// describes them.
			if err := os.WriteFile(filepath.Join(appDir, "Procfile"), []byte("worker: busybox sleep 1000\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(bpDir, "bin"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(bpDir, "bin", "nixbp-launch"), []byte("launcher"), 0o755); err != nil {
				t.Fatal(err)
			}
			sum, err := launcherDigest(bpDir)
			if err != nil {
				t.Fatal(err)
			}
			if tt.launcher != "" {
				sum = tt.launcher
			}
			view, stores := goodView(), goodStores()
			if tt.edit != nil {
				tt.edit(view, stores)
			}
			previousLayers(t, layersDir, view, sum, stores)
			c, err := cache.Open(context.Background(), "file://"+cacheDir, cache.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.pointer != "" {
				if err := c.WritePointer(context.Background(), "src1", tt.pointer); err != nil {
					t.Fatal(err)
				}
			}
			var logBuf bytes.Buffer
			target := &launchTarget{layers: libcnb.Layers{Path: layersDir}, logger: log.NewPaketoLogger(&logBuf),
				buildpackDir: bpDir, buildpackVersion: "0.1.0", source: "src1", settings: "set1", appDir: appDir}
			reused, procs, err := target.reusePrevious(caching.Caches{Write: c, Policy: tt.policy})
			if err != nil {
				t.Fatal(err)
			}
			if reused != tt.wantReuse {
				t.Fatalf("reused = %v, want %v\n%s", reused, tt.wantReuse, logBuf.String())
			}
			if !reused {
				if want := "Not reusing the previous image: " + tt.why; !strings.Contains(logBuf.String(), want) {
					t.Errorf("the log does not say %q:\n%s", want, logBuf.String())
				}
				if len(target.contributed) != 0 {
					t.Errorf("contributed %d layers without reusing", len(target.contributed))
				}
				return
			}
			var names []string
			for _, l := range target.contributed {
				names = append(names, l.Name)
				if !l.LayerTypes.Launch || l.LayerTypes.Cache || l.LayerTypes.Build {
					t.Errorf("layer %s types = %+v, want launch only", l.Name, l.LayerTypes)
				}
				if _, err := os.Stat(l.Path); !os.IsNotExist(err) {
					t.Errorf("layer %s has contents; the exporter must reuse the previous image's", l.Name)
				}
			}
			if got := strings.Join(names, " "); got != "view launcher store-a store-b" {
				t.Errorf("layers = %s", got)
			}
			for _, want := range []string{"Reusing the previous image's launch layers", "Reusing store layer store-a (1 store path)", "Reusing store layer store-b (1 store path)"} {
				if !strings.Contains(logBuf.String(), want) {
					t.Errorf("the log does not say %q:\n%s", want, logBuf.String())
				}
			}
			types := map[string]string{}
			for _, p := range procs {
				types[p.Type] = strings.Join(p.Args(), " ")
			}
			if len(procs) != 2 || !strings.Contains(types["web"], "busybox httpd -f") || !strings.Contains(types["worker"], "busybox sleep 1000") {
				t.Errorf("processes = %+v; want web from runtime.json and worker from the Procfile", procs)
			}
			// A relocated image's processes name the relocated closure, as
			// the build that made it did.
			www := reuseOutput + "/www"
			if view["relocated"] != "" {
				www = "/tmp/.nixs/" + strings.TrimPrefix(www, "/nix/store/")
			}
			if !strings.HasSuffix(types["web"], "-h "+www) {
				t.Errorf("web = %q, want it to serve %s", types["web"], www)
			}
		})
	}
}
