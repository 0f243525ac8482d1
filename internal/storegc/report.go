package storegc

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// MaxSizeSetting and EnabledSetting name the settings the log points at.
const (
	MaxSizeSetting = "BP_NIX_CACHE_MAX_SIZE"
	EnabledSetting = "BP_NIX_GC"
)

// rootTitles say in the log what each root keeps.
var rootTitles = map[string]string{
	RootNix:      "Nix",
	RootOutput:   "output",
	RootBuild:    "build inputs",
	RootPrevious: "previous output",
	RootAttrs:    "workers/env/path paths",
	RootNixpkgs:  "nixpkgs",
	RootOther:    "other roots",
}

// Lines says in one or two lines what was kept, what was freed and why.
func (r Report) Lines() []string {
	var parts []string
	for _, k := range r.Kept.Roots {
		parts = append(parts, fmt.Sprintf("%s %s", rootTitles[k.Name], HumanBytes(k.Bytes)))
	}
	bound := "no max size"
	if r.MaxSize > 0 {
		bound = "max " + HumanBytes(r.MaxSize)
	}
	lines := []string{fmt.Sprintf("Store kept %s in %d paths (%s; %s), freed %s in %d paths",
		HumanBytes(r.After), r.PathsAfter, strings.Join(parts, ", "), bound,
		HumanBytes(r.Before-r.After), r.PathsBefore-r.PathsAfter)}
	if len(r.Dropped) > 0 {
		var dropped []string
		for _, d := range r.Dropped {
			dropped = append(dropped, fmt.Sprintf("%s (%s)", rootTitles[d.Name], HumanBytes(d.Bytes)))
		}
		lines = append(lines, fmt.Sprintf("Dropped %s to stay under %s=%s; a changed build fetches or rebuilds them",
			strings.Join(dropped, " and "), MaxSizeSetting, HumanBytes(r.MaxSize)))
	}
	if r.OverBound {
		var kept []string
		var size int64
		for _, k := range r.Kept.Roots {
			if !droppable(k.Name) {
				kept = append(kept, rootTitles[k.Name])
				size += k.Bytes
			}
		}
		fix := "raise " + MaxSizeSetting
		if slices.ContainsFunc(r.Kept.Roots, func(k RootSize) bool { return k.Name == RootOther && k.Bytes > 0 }) {
			fix += ", or remove the other roots (nixbp store du lists them)"
		}
		lines = append(lines, fmt.Sprintf("warning: what is never dropped (%s) alone takes %s, over %s=%s; kept anyway: %s",
			strings.Join(kept, ", "), HumanBytes(size), MaxSizeSetting, HumanBytes(r.MaxSize), fix))
	}
	return lines
}

// Step is the pipeline's collection step after a successful build. The
// build's result does not depend on it, so a failure is a warning.
func Step(logger log.Logger, nix nixinstall.Nix, b Build, o Options) {
	if !o.Enabled {
		logger.Headerf("Keeping every store path (%s=false)", EnabledSetting)
		return
	}
	logger.Headerf("Collecting garbage in the Nix store")
	start := time.Now()
	rep, err := Collect(nix, b, o)
	if err != nil {
		logger.Bodyf("warning: the store was not collected: %v", err)
		return
	}
	lines := rep.Lines()
	lines[0] += fmt.Sprintf(", in %s", time.Since(start).Round(time.Millisecond))
	for _, l := range lines {
		logger.Bodyf("%s", l)
	}
}
