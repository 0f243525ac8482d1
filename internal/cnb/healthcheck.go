package cnb

import (
	"encoding/json"

	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
)

// HealthcheckLabel is the image label carrying hop3.toml's [healthcheck]
// as JSON ({"path": "/health", "interval": 10, ...}, seconds): OCI images
// have no health check a buildpack can set, and a platform (a Kubernetes
// probe, docker run --health-cmd) can read a label. See
// docs/hop3-runtime.md.
const HealthcheckLabel = "io.github.nix-buildpack.healthcheck"

// healthcheck is the label's value.
type healthcheck struct {
	Path     string `json:"path,omitempty"`
	Contains string `json:"contains,omitempty"`
	Interval int    `json:"interval,omitempty"`
	Timeout  int    `json:"timeout,omitempty"`
	Retries  int    `json:"retries,omitempty"`
}

// healthcheckLabels are the image labels for h (none when nil), logged.
func healthcheckLabels(h *config.Healthcheck, logger log.Logger) []libcnb.Label {
	if h == nil {
		return nil
	}
	data, _ := json.Marshal(healthcheck{Path: h.Path, Contains: h.Contains, Interval: h.Interval, Timeout: h.Timeout, Retries: h.Retries})
	logger.Bodyf("%s: image label %s=%s (a Kubernetes or kpack user makes it an httpGet probe on $PORT: docs/hop3-runtime.md)",
		h.Source, HealthcheckLabel, data)
	return []libcnb.Label{{Key: HealthcheckLabel, Value: string(data)}}
}
