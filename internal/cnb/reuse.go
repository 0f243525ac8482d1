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

// settingsDigest identifies the settings that change what the launch
// layers hold although the source does not.
func settingsDigest(in pipeline.Input, maxLayers int, reloc relocation) string {
	h := sha256.New()
	fmt.Fprintf(h, "nix %s %s\nargs %q\nnixpkgs %q\nflake-attr %q\nprune %+v\nmax-layers %d\n",
		in.Installer.Version, in.Installer.Checksum, in.Build.Args, in.Nixpkgs, in.FlakeAttr, in.Prune, maxLayers)
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
// launch layer. It reports whether it did, with the processes; when it
// does not, the log says why.
func (t *launchTarget) reusePrevious(caches caching.Caches) (bool, []process.Process, error) {
	prev, why, err := t.previous(caches)
	if err != nil {
		return false, nil, err
	}
	if why != "" {
		t.logger.Headerf("Not reusing the previous image: %s", why)
		return false, nil, nil
	}
	for _, l := range prev.keep {
		l.LayerTypes = libcnb.LayerTypes{Launch: true}
		t.contributed = append(t.contributed, l)
	}
	t.logger.Headerf("Reusing the previous image's launch layers: %s, by the source digest (pointer in %s)", prev.view.Output, prev.from)
	t.logger.Bodyf("%d store paths in %d store layers, no Nix installed, no store path fetched",
		len(strings.Fields(prev.view.Closure)), len(prev.keep)-2)
	for _, l := range prev.keep[2:] {
		var m storeMetadata
		readMetadata(l.Metadata, &m)
		t.logger.Bodyf("Reusing store layer %s (%s)", l.Name, storePaths(len(strings.Fields(m.Paths))))
	}
	for _, p := range prev.plan.Processes {
		t.logger.Bodyf("Process %s: %s", p.Type, p.Display())
	}
	t.labels = healthcheckLabels(prev.run.Healthcheck, t.logger)
	return true, prev.plan.Processes, nil
}

// previousImage is what reusePrevious keeps of the previous image.
type previousImage struct {
	view viewMetadata
	// keep are the view, the launcher and the store layers, as restored.
	keep []libcnb.Layer
	run  config.Run
	plan process.Plan
	// from names the cache whose pointer names the view's output.
	from string
}

// previous reads the previous image's launch layers' metadata and says why
// they cannot be reused ("" when they can).
func (t *launchTarget) previous(caches caching.Caches) (previousImage, string, error) {
	var prev previousImage
	switch {
	case !caches.Any():
		return prev, "no binary cache is configured, so no source pointer can vouch for its output", nil
	case caches.Policy == settings.BuildAlways:
		return prev, "the build policy is always", nil
	case t.source == "":
		return prev, "the app's source digest was not taken", nil
	}
	view, err := t.layers.Layer(viewLayerName)
	if err != nil {
		return prev, "", fmt.Errorf("unable to read the view layer's metadata\n%w", err)
	}
	readMetadata(view.Metadata, &prev.view)
	if prev.view.Output == "" {
		return prev, "there is none (no view layer metadata)", nil
	}
	want := prev.view
	want.Source, want.Settings, want.Launcher = t.source, t.settings, t.buildpackVersion
	if why := changes(view.Metadata, &want); len(why) > 0 {
		return prev, strings.Join(why, "; "), nil
	}
	launcher, err := t.layers.Layer(launcherLayerName)
	if err != nil {
		return prev, "", fmt.Errorf("unable to read the launcher layer's metadata\n%w", err)
	}
	sum, err := launcherDigest(t.buildpackDir)
	if err != nil {
		return prev, "", err
	}
	if why := changes(launcher.Metadata, launcherMetadata{SHA256: sum}); len(why) > 0 {
		return prev, strings.Join(why, "; "), nil
	}
	prev.keep = []libcnb.Layer{view, launcher}
	if why, err := t.previousStoreLayers(&prev); why != "" || err != nil {
		return prev, why, err
	}
	if why, err := t.previousProcesses(&prev); why != "" || err != nil {
		return prev, why, err
	}
	if prev.from = t.pointerFor(caches, prev.view.Output); prev.from == "" {
		return prev, fmt.Sprintf("no cache's source pointer for this source names its output %s", prev.view.Output), nil
	}
	return prev, "", nil
}

// previousStoreLayers adds the store layers the view lists to prev.keep,
// or says why they cannot be reused.
func (t *launchTarget) previousStoreLayers(prev *previousImage) (string, error) {
	for _, name := range strings.Fields(prev.view.StoreLayers) {
		l, err := t.layers.Layer(name)
		if err != nil {
			return "", fmt.Errorf("unable to read the layer %s's metadata\n%w", name, err)
		}
		var m storeMetadata
		readMetadata(l.Metadata, &m)
		if m.Paths == "" {
			return fmt.Sprintf("store layer %s has no metadata", name), nil
		}
		if m.SlugExclude != prev.view.SlugExclude {
			return fmt.Sprintf("store layer %s was pruned by another .slugexclude (%s, the view's %s)", name, short(m.SlugExclude), short(prev.view.SlugExclude)), nil
		}
		prev.keep = append(prev.keep, l)
	}
	return "", nil
}

// previousProcesses describes the previous image's processes as the
// pipeline would (the Procfile and hop3.toml are in the source, unchanged
// with its digest), or says why it cannot.
func (t *launchTarget) previousProcesses(prev *previousImage) (string, error) {
	var rt runtimejson.Runtime
	if err := json.Unmarshal([]byte(prev.view.Runtime), &rt); err != nil {
		return fmt.Sprintf("the view layer records no readable runtime (an older buildpack): %v", err), nil
	}
	var err error
	if prev.run, err = config.ReadRun(t.appDir); err != nil {
		return "", err
	}
	if prev.plan, err = pipeline.Describe(rt, prev.run, t.Launcher()); err != nil {
		return fmt.Sprintf("its processes cannot be described: %v", err), nil
	}
	if len(prev.plan.Processes) == 0 {
		return "it declares no process", nil
	}
	if p := prev.view.Relocated; p != "" {
		prev.plan.Processes = relocatedProcesses(prev.plan.Processes, relocate.Prefix(p))
	}
	return "", nil
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
