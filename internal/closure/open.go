package closure

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
)

// CacheSettings is what a user configures about caches, gathered by a
// front-end from its settings, bindings and environment.
type CacheSettings struct {
	// Write is the read-write cache URL (BP_NIX_CACHE).
	Write string
	// Read are read-only cache URLs (BP_NIX_CACHES, NIX_EXTRA_BINARY_CACHE).
	Read []string
	// Policy and BuildOnPush feed ParsePolicy.
	Policy, BuildOnPush string
	// OldS3 are the old buildpacks' variables NIX_S3_BUCKET, NIX_S3_KEY,
	// NIX_S3_SECRET and NIX_APP_NAME.
	OldS3 OldS3
	// Credentials for s3:// caches; nil uses the AWS credential chain.
	Credentials *cache.Credentials
	// SecretKey signs what is pushed ("name:base64"); empty: unsigned.
	SecretKey string
	// TrustedKeys, when set, refuse unsigned or wrongly signed paths.
	TrustedKeys []string
}

// OldS3 holds the old Heroku Nix buildpacks' S3 variables.
type OldS3 struct {
	Bucket, Key, Secret, AppName string
}

// OpenCaches turns settings into caches. Secrets stay inside the returned
// caches: errors and names never show them.
func OpenCaches(ctx context.Context, s CacheSettings, log io.Writer) (Caches, error) {
	policy, err := ParsePolicy(s.Policy, s.BuildOnPush)
	if err != nil {
		return Caches{}, err
	}
	c := Caches{Policy: policy}
	opts := cache.Options{Credentials: s.Credentials, TrustedKeys: s.TrustedKeys, Log: log}
	if s.SecretKey != "" {
		if opts.SecretKey, err = cache.ParseSecretKey(s.SecretKey); err != nil {
			return Caches{}, fmt.Errorf("the cache signing key is malformed: expected name:base64 as nix-store --generate-binary-cache-key writes it")
		}
	}
	write := s.Write
	if s.OldS3.Bucket != "" {
		if write != "" {
			return Caches{}, fmt.Errorf("both BP_NIX_CACHE and NIX_S3_BUCKET are set; keep one")
		}
		if s.OldS3.AppName == "" {
			return Caches{}, fmt.Errorf("NIX_S3_BUCKET is set but NIX_APP_NAME is not: the old S3 variables need NIX_APP_NAME " +
				"(the key prefix of this app in the bucket); set it, or use BP_NIX_CACHE=s3://bucket/prefix")
		}
		if (s.OldS3.Key == "") != (s.OldS3.Secret == "") {
			return Caches{}, fmt.Errorf("NIX_S3_KEY and NIX_S3_SECRET go together: set both, or neither to use the AWS credential chain")
		}
		write = "s3://" + s.OldS3.Bucket + "/" + url.PathEscape(s.OldS3.AppName)
		if s.OldS3.Key != "" && opts.Credentials == nil {
			opts.Credentials = &cache.Credentials{AccessKeyID: s.OldS3.Key, SecretAccessKey: s.OldS3.Secret}
		}
	}
	if write != "" {
		if c.Write, err = cache.Open(ctx, write, opts); err != nil {
			return Caches{}, fmt.Errorf("the cache URL is invalid: %w", err)
		}
	}
	for _, u := range s.Read {
		if strings.TrimSpace(u) == "" {
			continue
		}
		ch, err := cache.Open(ctx, u, opts)
		if err != nil {
			return Caches{}, fmt.Errorf("the read-only cache URL is invalid: %w", err)
		}
		c.Read = append(c.Read, ch)
	}
	return c, nil
}
