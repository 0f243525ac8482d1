package cnb

import (
	"github.com/buildpacks/libcnb/v2"
)

// key is what a layer was made from, kept as the layer's metadata: when the
// previous build's key equals this build's, the layer is left untouched and
// the exporter reuses the previous image's blob. It is the one way layers
// of this buildpack are keyed.
type key map[string]string

// matches reports whether the layer, as restored, was made from k.
func (k key) matches(layer libcnb.Layer) bool {
	if len(layer.Metadata) != len(k) {
		return false
	}
	for name, v := range k {
		if s, ok := layer.Metadata[name].(string); !ok || s != v {
			return false
		}
	}
	return true
}

// metadata is k as libcnb writes it into the layer's TOML.
func (k key) metadata() map[string]interface{} {
	m := make(map[string]interface{}, len(k))
	for name, v := range k {
		m[name] = v
	}
	return m
}
