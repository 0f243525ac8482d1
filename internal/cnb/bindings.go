package cnb

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/buildpacks/libcnb/v2"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// CacheBindingType is the binding that holds cache secrets: keys
// access-key-id, secret-access-key, session-token (S3), config.json or
// .dockerconfigjson (a docker config with the registry's credentials, for
// oci://) and secret-key (the Nix signing key, name:base64). A binding wins
// over the settings.
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
		if d := registryConfig(b); d != "" {
			creds := settings.Credentials{}
			if c.Credentials != nil {
				creds = *c.Credentials
			}
			creds.DockerConfig = d
			c.Credentials = &creds
		}
	}
	return c
}

// registryConfig is a binding's docker config: its config.json key, or the
// .dockerconfigjson file a Kubernetes registry Secret projects (libcnb skips
// dot files, so it is read from the binding's directory).
func registryConfig(b libcnb.Binding) string {
	if d := strings.TrimSpace(b.Secret["config.json"]); d != "" {
		return d
	}
	if b.Path == "" {
		return ""
	}
	data, err := os.ReadFile(filepath.Join(b.Path, ".dockerconfigjson"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
