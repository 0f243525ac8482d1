package cnb

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// A layer's metadata is what it was made from: a struct of string fields,
// each tagged with its key in the layer's TOML (`meta:"key"`) and what it
// is, for the log (`what:"..."`). When the previous build's metadata equals
// this build's, the layer is left untouched and the exporter reuses the
// previous image's blob; when not, changes says why, and the log prints it.

// nixMetadata is the nix layer's: the installed Nix's key (nixinstall.Key).
type nixMetadata struct {
	Nix string `meta:"nix" what:"Nix installer"`
}

// storeMetadata is a store layer's: its contents depend on nothing else, so
// apps that share a path share its blob.
type storeMetadata struct {
	Paths       string `meta:"paths" what:"store paths"`
	SlugExclude string `meta:"slugexclude" what:".slugexclude digest"`
	// Relocated is the relocation's key (relocation.key) when the layer
	// holds the closure relocated, "" (absent) as built.
	Relocated string `meta:"relocated" what:"relocation"`
}

// viewMetadata is the view layer's: what it links and sets, and enough to
// reuse every launch layer of the previous image on a fresh pod, where the
// lifecycle restores a launch layer's metadata from the image's label,
// never its contents (kpack, Tekton, CI): reusePrevious.
type viewMetadata struct {
	Output      string `meta:"output" what:"output"`
	SlugExclude string `meta:"slugexclude" what:".slugexclude digest"`
	// Layers is a digest of the layer plan and the launch environment.
	Layers string `meta:"layers" what:"layer plan and environment"`
	// Launcher is the buildpack version, whose launcher reads the view.
	Launcher string `meta:"launcher" what:"buildpack version"`
	// Source is the app source's digest (caching.SourceDigest).
	Source string `meta:"source" what:"source digest"`
	// Settings is a digest of the settings that shape the layers.
	Settings string `meta:"settings" what:"settings digest"`
	// Runtime is the runtime (runtime.json or the workers attributes), as JSON.
	Runtime string `meta:"runtime" what:"runtime description"`
	// Closure is the runtime closure's store paths, space separated.
	Closure string `meta:"closure" what:"runtime closure"`
	// StoreLayers names the store-* layers, space separated.
	StoreLayers string `meta:"store-layers" what:"store layers"`
	// Relocated is where the closure was relocated to, "" (absent) when
	// it was not.
	Relocated string `meta:"relocated" what:"relocation"`
}

// launcherMetadata is the launcher layer's (libpak's LayerContributor
// writes it): the sha256 of nixbp-launch and the bundled proot.
type launcherMetadata struct {
	SHA256 string `meta:"sha256" what:"launcher binaries"`
}

// metadataOf is m (a pointer to a metadata struct, or one) as libcnb writes
// it into the layer's TOML; an empty field is left out.
func metadataOf(m any) map[string]interface{} {
	md := map[string]interface{}{}
	v := reflect.Indirect(reflect.ValueOf(m))
	for i := range v.NumField() {
		if s := v.Field(i).String(); s != "" {
			md[v.Type().Field(i).Tag.Get("meta")] = s
		}
	}
	return md
}

// readMetadata fills m (a pointer to a metadata struct) from a layer's
// metadata; a key that is absent or not a string leaves its field empty.
func readMetadata(md map[string]interface{}, m any) {
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		s, _ := md[v.Type().Field(i).Tag.Get("meta")].(string)
		v.Field(i).SetString(s)
	}
}

// changes says how m (what this build would make) differs from prev (the
// layer's metadata as restored from the previous build), in field order,
// one phrase each: "settings digest changed (a -> b)". None means the
// layer can be reused as it is. A key m does not know is a change too.
func changes(prev map[string]interface{}, m any) []string {
	if len(prev) == 0 {
		return []string{"no previous layer"}
	}
	var out []string
	v := reflect.Indirect(reflect.ValueOf(m))
	known := map[string]bool{}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		key, what := f.Tag.Get("meta"), f.Tag.Get("what")
		known[key] = true
		was, _ := prev[key].(string)
		now := v.Field(i).String()
		switch {
		case was == now:
		case was == "":
			out = append(out, fmt.Sprintf("%s added (%s)", what, short(now)))
		case now == "":
			out = append(out, fmt.Sprintf("%s removed (was %s)", what, short(was)))
		default:
			out = append(out, fmt.Sprintf("%s changed (%s -> %s)", what, short(was), short(now)))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(prev)) {
		if !known[key] {
			out = append(out, fmt.Sprintf("the previous layer has %q, which this buildpack does not write", key))
		}
	}
	return out
}

// short abbreviates a long value (a digest, a list of store paths, JSON)
// for the log.
func short(s string) string {
	if n := strings.Count(s, " ") + 1; n > 1 && len(s) > 40 {
		return fmt.Sprintf("%d entries, %.24s...", n, s)
	}
	if len(s) > 40 {
		return s[:16] + "..."
	}
	return s
}

// storePaths counts store paths for the log.
func storePaths(n int) string {
	if n == 1 {
		return "1 store path"
	}
	return fmt.Sprintf("%d store paths", n)
}
