package heroku

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/closure"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/relocate"
	"github.com/nix-buildpack/nix-buildpack/internal/storegc"
)

// Config vars this front-end reads besides the BP_NIX_* settings declared
// in buildpack.toml. The NIX_* names are those of the earlier Heroku Nix
// buildpacks, so their apps deploy unchanged.
const (
	StrategyVar      = "NIX_STRATEGY"
	BuildFlagsVar    = "NIX_BUILD_FLAGS"
	ExtraCacheVar    = "NIX_EXTRA_BINARY_CACHE"
	BuildOnPushVar   = "NIX_BUILD_ON_PUSH"
	S3KeyVar         = "NIX_S3_KEY"
	S3SecretVar      = "NIX_S3_SECRET"
	S3BucketVar      = "NIX_S3_BUCKET"
	AppNameVar       = "NIX_APP_NAME"
	TarballVar       = "NIXBP_NIX_TARBALL"
	TarballSHA256Var = "NIXBP_NIX_TARBALL_SHA256"
	// CacheSecretKeyVar signs what is pushed to the cache (the CNB
	// front-end's nix-cache binding key secret-key).
	CacheSecretKeyVar = "NIXBP_CACHE_SECRET_KEY"
)

// awsVars are the standard AWS credentials, read from ENV_DIR for an
// s3:// BP_NIX_CACHE (the SDK's credential chain reads only the process
// environment, where Heroku does not put config vars during compile).
var awsVars = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}

// secretVars are never shown in the log.
var secretVars = map[string]bool{S3KeyVar: true, S3SecretVar: true, CacheSecretKeyVar: true,
	"AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true}

// The BP_NIX_* settings (declared in buildpack.toml, shared with the CNB
// front-end).
const (
	bpStrategy     = "BP_NIX_STRATEGY"
	bpBuildArgs    = "BP_NIX_BUILD_ARGS"
	bpSubstituters = "BP_NIX_SUBSTITUTERS"
	bpTrustedKeys  = "BP_NIX_TRUSTED_PUBLIC_KEYS"
	bpVersion      = "BP_NIX_VERSION"
	bpCache        = "BP_NIX_CACHE"
	bpCaches       = "BP_NIX_CACHES"
	bpBuildPolicy  = "BP_NIX_BUILD_POLICY"
	bpPruneGuard   = "BP_NIX_PRUNE_GUARD"
	bpEmptyDirs    = "BP_NIX_PRUNE_EMPTY_DIRS"
	bpSizeLimit    = "BP_NIX_SIZE_LIMIT"
	bpStoreGC      = storegc.EnabledSetting
	bpCacheMaxSize = storegc.MaxSizeSetting
)

// Vars lists the config vars compile reads from ENV_DIR besides those
// declared in buildpack.toml.
var Vars = append([]string{StrategyVar, BuildFlagsVar, ExtraCacheVar, BuildOnPushVar, S3KeyVar, S3SecretVar, S3BucketVar,
	AppNameVar, TarballVar, TarballSHA256Var, CacheSecretKeyVar}, awsVars...)

// Settings is the validated configuration of one compile.
type Settings struct {
	// Strategy is the /nix strategy at build time.
	Strategy nixmount.Strategy
	// BuildArgs are extra nix-build arguments (BP_NIX_BUILD_ARGS, then
	// NIX_BUILD_FLAGS).
	BuildArgs []string
	// Substituters and TrustedPublicKeys go to nix.conf.
	Substituters, TrustedPublicKeys []string
	// NixVersion constrains the buildpack.toml Nix dependency.
	NixVersion string
	// S3 is the old buildpacks' S3 closure cache, nil when not configured.
	S3 *S3Cache
	// Caches are the closure caches, for closure.OpenCaches.
	Caches closure.CacheSettings
	// Prune says how the closure is pruned into the slug.
	Prune pipeline.Prune
	// Tarball is a local Nix installer tarball overriding the download.
	Tarball LocalTarball
	// StoreGC says whether and how CACHE_DIR's store is collected.
	StoreGC storegc.Options
	// Relocate says whether the slug carries a relocated closure.
	Relocate relocate.Options
}

// S3Cache is the closure cache the old Heroku Nix buildpacks kept in S3:
// one app's closure under s3://Bucket/AppName. Printing it hides the keys.
type S3Cache struct {
	Bucket, AppName string
	// AccessKeyID and SecretAccessKey are empty to use the AWS credential
	// chain (instance roles, AWS_* variables).
	AccessKeyID, SecretAccessKey string
}

// URL is the cache URL in the form internal/cache opens.
func (s S3Cache) URL() string { return "s3://" + s.Bucket + "/" + s.AppName }

// String shows the cache without its keys.
func (s S3Cache) String() string {
	keys := "AWS credential chain"
	if s.AccessKeyID != "" {
		keys = "keys from " + S3KeyVar + "/" + S3SecretVar
	}
	return s.URL() + " (" + keys + ")"
}

// GoString hides the keys from %#v.
func (s S3Cache) GoString() string { return "heroku.S3Cache{" + s.String() + "}" }

// LocalTarball is a Nix installer tarball on the build machine.
type LocalTarball struct {
	// Path is the file ("" when not set).
	Path string
	// SHA256 is the checksum it must have; "" means the buildpack.toml pin.
	SHA256 string
}

// ParseSettings validates the configuration. bp resolves the BP_NIX_*
// settings (libpak.ConfigurationResolver, with defaults from
// buildpack.toml); env holds the config vars. Each error names the
// variable, what was expected and what to do.
func ParseSettings(env Env, bp func(name string) string) (Settings, error) {
	s := Settings{NixVersion: bp(bpVersion)}
	var err error
	if s.Strategy, err = parseStrategy(env, bp); err != nil {
		return s, err
	}
	for _, v := range []struct{ name, value string }{{bpBuildArgs, bp(bpBuildArgs)}, {BuildFlagsVar, env.Get(BuildFlagsVar)}} {
		words, err := ParseBuildFlags(v.name, v.value)
		if err != nil {
			return s, err
		}
		s.BuildArgs = append(s.BuildArgs, words...)
	}
	s.Substituters, s.TrustedPublicKeys = strings.Fields(bp(bpSubstituters)), strings.Fields(bp(bpTrustedKeys))
	if s.Caches, s.S3, err = parseCaches(env, bp, s.TrustedPublicKeys); err != nil {
		return s, err
	}
	if s.Prune, err = parsePrune(bp); err != nil {
		return s, err
	}
	if s.StoreGC, err = parseStoreGC(bp); err != nil {
		return s, err
	}
	s.Tarball, err = parseTarball(env)
	return s, err
}

func parseStoreGC(bp func(string) string) (storegc.Options, error) {
	var o storegc.Options
	var err error
	if o.Enabled, err = parseBool(bpStoreGC, bp(bpStoreGC), true); err != nil {
		return o, err
	}
	if o.MaxSize, err = pipeline.ParseSize(bp(bpCacheMaxSize)); err != nil {
		return o, fmt.Errorf("%s: %w", bpCacheMaxSize, err)
	}
	return o, nil
}

// parseCaches gathers the closure cache settings as the CNB front-end
// does, with secrets from config vars instead of a binding, and checks
// what can be checked before anything is written.
func parseCaches(env Env, bp func(string) string, trusted []string) (closure.CacheSettings, *S3Cache, error) {
	cs := closure.CacheSettings{Write: strings.TrimSpace(bp(bpCache)), Policy: bp(bpBuildPolicy),
		BuildOnPush: env.Get(BuildOnPushVar), SecretKey: strings.TrimSpace(env.Get(CacheSecretKeyVar)), TrustedKeys: trusted}
	for _, v := range []struct{ name, value string }{{bpCaches, bp(bpCaches)}, {ExtraCacheVar, env.Get(ExtraCacheVar)}} {
		for _, u := range strings.Fields(v.value) {
			if err := checkCacheURL(v.name, u); err != nil {
				return cs, nil, err
			}
			cs.Read = append(cs.Read, u)
		}
	}
	if cs.Write != "" {
		if err := checkCacheURL(bpCache, cs.Write); err != nil {
			return cs, nil, err
		}
	}
	if _, err := closure.ParsePolicy(cs.Policy, cs.BuildOnPush); err != nil {
		return cs, nil, fmt.Errorf("%s\nset %s to missing, always or never, or %s to 1 or 0", err, bpBuildPolicy, BuildOnPushVar)
	}
	s3, err := parseS3(env)
	if err != nil {
		return cs, nil, err
	}
	if s3 != nil {
		if cs.Write != "" {
			return cs, nil, fmt.Errorf("both %s and %s are set\nkeep one: %s=%s is the same cache", bpCache, S3BucketVar, bpCache, s3.URL())
		}
		cs.OldS3 = closure.OldS3{Bucket: s3.Bucket, AppName: s3.AppName, Key: s3.AccessKeyID, Secret: s3.SecretAccessKey}
	} else if id := env.Get("AWS_ACCESS_KEY_ID"); id != "" {
		cs.Credentials = &cache.Credentials{AccessKeyID: id, SecretAccessKey: env.Get("AWS_SECRET_ACCESS_KEY"),
			SessionToken: env.Get("AWS_SESSION_TOKEN")}
	}
	return cs, s3, nil
}

func parsePrune(bp func(string) string) (pipeline.Prune, error) {
	var p pipeline.Prune
	guard, err := parseBool(bpPruneGuard, bp(bpPruneGuard), true)
	if err != nil {
		return p, err
	}
	if p.PruneEmptyDirs, err = parseBool(bpEmptyDirs, bp(bpEmptyDirs), false); err != nil {
		return p, err
	}
	p.Unguarded = !guard
	if p.SizeLimit, err = pipeline.ParseSize(bp(bpSizeLimit)); err != nil {
		return p, fmt.Errorf("%s: %w", bpSizeLimit, err)
	}
	return p, nil
}

func parseStrategy(env Env, bp func(string) string) (nixmount.Strategy, error) {
	name, from := bp(bpStrategy), bpStrategy
	if v := env.Get(StrategyVar); v != "" {
		if b, ok := env.Lookup(bpStrategy); ok && b != "" && !strings.EqualFold(strings.TrimSpace(b), strings.TrimSpace(v)) {
			return "", fmt.Errorf("%s=%q and %s=%q disagree\nset only one of them (%s is the Heroku-style name of %s)",
				StrategyVar, v, bpStrategy, b, StrategyVar, bpStrategy)
		}
		name, from = v, StrategyVar
	}
	st, err := nixmount.ParseStrategy(name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", from, err)
	}
	return st, nil
}

func checkCacheURL(variable, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || (u.Host == "" && u.Scheme != "file") {
		return fmt.Errorf("%s: %q is not a binary cache URL\nexpected URLs separated by spaces, e.g. https://cache.example.org or file:///srv/nix-cache", variable, s)
	}
	return nil
}

var appName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func parseS3(env Env) (*S3Cache, error) {
	set := env.Names(S3KeyVar, S3SecretVar, S3BucketVar)
	if len(set) == 0 {
		return nil, nil
	}
	s := &S3Cache{Bucket: env.Get(S3BucketVar), AppName: env.Get(AppNameVar),
		AccessKeyID: env.Get(S3KeyVar), SecretAccessKey: env.Get(S3SecretVar)}
	switch {
	case s.Bucket == "":
		return nil, fmt.Errorf("%s but %s is not\nthe closure cache needs a bucket: set %s, or unset %s",
			areSet(set), S3BucketVar, S3BucketVar, strings.Join(set, " and "))
	case (s.AccessKeyID == "") != (s.SecretAccessKey == ""):
		have, lack := S3KeyVar, S3SecretVar
		if s.AccessKeyID == "" {
			have, lack = S3SecretVar, S3KeyVar
		}
		return nil, fmt.Errorf("%s is set but %s is not\nset both, or neither to use the AWS credential chain", have, lack)
	case s.AppName == "":
		return nil, fmt.Errorf("%s but %s is not\nthe closure cache keeps each app's closure under s3://%s/<%s>; "+
			"set %s (e.g. heroku config:set %s=myapp), or unset %s to build without the S3 cache",
			areSet(set), AppNameVar, s.Bucket, AppNameVar, AppNameVar, AppNameVar, strings.Join(set, ", "))
	case !appName.MatchString(s.AppName):
		return nil, fmt.Errorf("%s=%q: expected letters, digits, '.', '_' or '-' (it becomes a key prefix in the bucket)", AppNameVar, s.AppName)
	case strings.ContainsAny(s.Bucket, "/ "):
		return nil, fmt.Errorf("%s=%q: expected a bucket name, without s3:// or a path", S3BucketVar, s.Bucket)
	}
	return s, nil
}

func areSet(names []string) string {
	if len(names) == 1 {
		return names[0] + " is set"
	}
	return strings.Join(names, ", ") + " are set"
}

// parseBool reads a boolean setting as libpak's ResolveBool does, but
// refuses what it would silently take as false.
func parseBool(variable, v string, unset bool) (bool, error) {
	if strings.TrimSpace(v) == "" {
		return unset, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, fmt.Errorf("%s=%q: expected true or false", variable, v)
	}
	return b, nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func parseTarball(env Env) (LocalTarball, error) {
	t := LocalTarball{Path: env.Get(TarballVar), SHA256: strings.ToLower(strings.TrimSpace(env.Get(TarballSHA256Var)))}
	t.SHA256 = strings.TrimPrefix(t.SHA256, "sha256:")
	if t.Path == "" {
		if t.SHA256 != "" {
			return t, fmt.Errorf("%s is set but %s is not\nset %s to the local Nix installer tarball the checksum is for", TarballSHA256Var, TarballVar, TarballVar)
		}
		return t, nil
	}
	t.Path = strings.TrimPrefix(t.Path, "file://")
	if !strings.HasPrefix(t.Path, "/") {
		return t, fmt.Errorf("%s=%q: expected an absolute path (or file:// URL) of a Nix installer tarball", TarballVar, env.Get(TarballVar))
	}
	if t.SHA256 != "" && !sha256Hex.MatchString(t.SHA256) {
		return t, fmt.Errorf("%s=%q: expected 64 hexadecimal digits (sha256sum's output)", TarballSHA256Var, env.Get(TarballSHA256Var))
	}
	return t, nil
}
