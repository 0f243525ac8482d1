package cnb

import (
	"strings"

	"github.com/buildpacks/libcnb/v2"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// CacheBindingType is the binding that holds cache secrets: keys
// access-key-id, secret-access-key, session-token (S3) and secret-key (the
// Nix signing key, name:base64). A binding wins over the settings.
const CacheBindingType = "nix-cache"

// withCacheBinding is c with the secrets of the platform's nix-cache
// bindings in place of the settings'.
func withCacheBinding(c settings.Caches, bindings libcnb.Bindings) settings.Caches {
	for _, b := range bindings {
		if b.Type != CacheBindingType {
			continue
		}
		if id := strings.TrimSpace(b.Secret["access-key-id"]); id != "" {
			c.Credentials = &settings.Credentials{AccessKeyID: id,
				SecretAccessKey: strings.TrimSpace(b.Secret["secret-access-key"]),
				SessionToken:    strings.TrimSpace(b.Secret["session-token"])}
		}
		if k := strings.TrimSpace(b.Secret["secret-key"]); k != "" {
			c.SecretKey = k
		}
	}
	return c
}
