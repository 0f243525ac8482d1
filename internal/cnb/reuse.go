package cnb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/buildpacks/libcnb/v2"

	"github.com/nix-buildpack/nix-buildpack/internal/caching"
	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/relocate"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// Keys of the view layer's metadata that let an unchanged rebuild reuse the
// previous image without the store: the lifecycle restores a launch layer's
// metadata from the previous image's label, never its contents, on a fresh
// pod (kpack, Tekton, CI).
const (
	// metaSource is the app source's digest (caching.SourceDigest).
	metaSource = "source"
	// metaSettings is a digest of the settings that shape the layers.
	metaSettings = "settings"
	// metaRuntime is the runtime (runtime.json or the workers attributes), as JSON.
	metaRuntime = "runtime"
	// metaClosure is the runtime closure's store paths, space separated.
	metaClosure = "closure"
	// metaStoreLayers names the store-* layers, space separated.
	metaStoreLayers = "store-layers"
	// metaRelocated is, in the store layers and the view, where the
	// closure they hold was relocated to (absent: not relocated).
	metaRelocated = "relocated"
)

// settingsDigest identifies the settings that change what the launch
// layers hold although the source does not.
func settingsDigest(in pipeline.Input, maxLayers int, reloc relocation) string {
	h := sha256.New()
	fmt.Fprintf(h, "nix %s %s\nargs %q\nnixpkgs %q\nflake-attr %q\nprune %+v\nmax-layers %d\n",
		in.Nix.Version, in.Nix.Checksum, in.Build.Args, in.Nixpkgs, in.FlakeAttr, in.Prune, maxLayers)
	if d := reloc.digest(); d != "" {
		fmt.Fprintf(h, "%s\n", d)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// reusePrevious keeps the previous image's launch layers as they are,
// without their contents, when nothing that shapes them changed: the source
// has the digest the view layer records, a cache's pointer for that digest
// still names the view's output, the settings and the launcher are the
// same, and every store layer the view lists has its metadata. Then the
// build installs no Nix, fetches no NAR and the exporter reuses every
// launch layer. It reports whether it did, with the processes.
func (t *launchTarget) reusePrevious(caches caching.Caches) (bool, []process.Process, error) {
	if t.source == "" || caches.Policy == settings.BuildAlways {
		return false, nil, nil
	}
	view, err := t.layers.Layer(viewLayerName)
	if err != nil {
		return false, nil, fmt.Errorf("unable to read the view layer's metadata\n%w", err)
	}
	md := view.Metadata
	output := metaString(md, "output")
	if output == "" || metaString(md, metaSource) != t.source || metaString(md, metaSettings) != t.settings ||
		metaString(md, "launcher") != t.buildpackVersion {
		return false, nil, nil
	}
	launcher, err := t.layers.Layer(launcherLayerName)
	if err != nil {
		return false, nil, fmt.Errorf("unable to read the launcher layer's metadata\n%w", err)
	}
	sum, err := launcherDigest(t.buildpackDir)
	if err != nil {
		return false, nil, err
	}
	if metaString(launcher.Metadata, "sha256") != sum {
		return false, nil, nil
	}
	keep := []libcnb.Layer{view, launcher}
	for _, name := range strings.Fields(metaString(md, metaStoreLayers)) {
		l, err := t.layers.Layer(name)
		if err != nil {
			return false, nil, fmt.Errorf("unable to read the layer %s's metadata\n%w", name, err)
		}
		if metaString(l.Metadata, "paths") == "" || metaString(l.Metadata, "slugexclude") != metaString(md, "slugexclude") {
			return false, nil, nil
		}
		keep = append(keep, l)
	}
	var rt runtimejson.Runtime
	if err := json.Unmarshal([]byte(metaString(md, metaRuntime)), &rt); err != nil {
		return false, nil, nil
	}
	// The processes as the pipeline describes them: the Procfile and
	// hop3.toml are in the source, unchanged with its digest.
	run, err := config.ReadRun(t.appDir)
	if err != nil {
		return false, nil, err
	}
	plan, err := pipeline.Describe(rt, run, t.Launcher())
	if err != nil || len(plan.Processes) == 0 {
		return false, nil, nil
	}
	if p := metaString(md, metaRelocated); p != "" {
		plan.Processes = relocatedProcesses(plan.Processes, relocate.Prefix(p))
	}
	from := t.pointerFor(caches, output)
	if from == "" {
		return false, nil, nil
	}
	for _, l := range keep {
		l.LayerTypes = libcnb.LayerTypes{Launch: true}
		t.contributed = append(t.contributed, l)
	}
	t.logger.Headerf("Reusing the previous image's launch layers: %s, by the source digest (pointer in %s)", output, from)
	t.logger.Bodyf("%d store paths in %d store layers, no Nix installed, no store path fetched",
		len(strings.Fields(metaString(md, metaClosure))), len(keep)-2)
	for _, p := range plan.Processes {
		t.logger.Bodyf("Process %s: %s", p.Type, p.Display())
	}
	t.labels = healthcheckLabels(run.Healthcheck, t.logger)
	return true, plan.Processes, nil
}

// pointerFor returns the first cache whose pointer for the source digest
// names output; a cache that fails is a warning.
func (t *launchTarget) pointerFor(caches caching.Caches, output string) string {
	for _, c := range caches.All() {
		p, err := c.ReadPointer(context.Background(), t.source)
		if err != nil {
			t.logger.Bodyf("warning: %v", err)
			continue
		}
		if p != nil && p.Output == output {
			return c.String()
		}
	}
	return ""
}

func metaString(md map[string]interface{}, key string) string {
	s, _ := md[key].(string)
	return s
}
