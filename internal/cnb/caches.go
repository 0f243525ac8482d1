package cnb

import (
	"context"
	"os"
	"strings"

	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/closure"
)

// Cache settings, declared in buildpack.toml.
const (
	CacheSetting       = "BP_NIX_CACHE"
	ReadCachesSetting  = "BP_NIX_CACHES"
	BuildPolicySetting = "BP_NIX_BUILD_POLICY"
	// CacheBindingType is the binding that holds cache secrets: keys
	// access-key-id, secret-access-key, session-token (S3) and secret-key
	// (the Nix signing key, name:base64).
	CacheBindingType = "nix-cache"
)

// caches opens the closure caches from settings, bindings and the old
// buildpacks' environment variables.
func caches(ctx libcnb.BuildContext, cr libpak.ConfigurationResolver, trusted []string, logger log.Logger) (closure.Caches, error) {
	write, _ := cr.Resolve(CacheSetting)
	read, _ := cr.Resolve(ReadCachesSetting)
	policy, _ := cr.Resolve(BuildPolicySetting)
	s := closure.CacheSettings{
		Write:       write,
		Read:        append(strings.Fields(read), strings.Fields(os.Getenv("NIX_EXTRA_BINARY_CACHE"))...),
		Policy:      policy,
		BuildOnPush: os.Getenv("NIX_BUILD_ON_PUSH"),
		OldS3: closure.OldS3{Bucket: os.Getenv("NIX_S3_BUCKET"), Key: os.Getenv("NIX_S3_KEY"),
			Secret: os.Getenv("NIX_S3_SECRET"), AppName: os.Getenv("NIX_APP_NAME")},
		TrustedKeys: trusted,
	}
	for _, b := range ctx.Platform.Bindings {
		if b.Type != CacheBindingType {
			continue
		}
		if id := strings.TrimSpace(b.Secret["access-key-id"]); id != "" {
			s.Credentials = &cache.Credentials{AccessKeyID: id,
				SecretAccessKey: strings.TrimSpace(b.Secret["secret-access-key"]),
				SessionToken:    strings.TrimSpace(b.Secret["session-token"])}
		}
		s.SecretKey = strings.TrimSpace(b.Secret["secret-key"])
	}
	return closure.OpenCaches(context.Background(), s, logger.BodyWriter())
}
