// Package cnb is the Cloud Native Buildpacks front-end: libcnb detect and
// build functions around the shared pipeline.
package cnb

import (
	"errors"

	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
)

// PlanEntry is the build plan entry this buildpack provides and requires.
const PlanEntry = "nix"

// NewDetect returns the detect function: it passes when the app has a Nix
// expression, fails quietly when it has none, and errors on a malformed
// hop3.toml.
func NewDetect(logger log.Logger) libcnb.DetectFunc {
	return func(ctx libcnb.DetectContext) (libcnb.DetectResult, error) {
		app, err := config.Load(ctx.ApplicationPath)
		if errors.Is(err, config.ErrNotNix) {
			logger.Debugf("no Nix expression: %v", err)
			return libcnb.DetectResult{Pass: false}, nil
		}
		if err != nil {
			return libcnb.DetectResult{}, err
		}
		return libcnb.DetectResult{
			Pass: true,
			Plans: []libcnb.BuildPlan{{
				Provides: []libcnb.BuildPlanProvide{{Name: PlanEntry}},
				Requires: []libcnb.BuildPlanRequire{{Name: PlanEntry, Metadata: map[string]interface{}{"file": app.NixFile}}},
			}},
		}, nil
	}
}
