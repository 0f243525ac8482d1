package settings

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Caches is what a user configures about closure caches.
type Caches struct {
	// Write is the read-write cache URL: BP_NIX_CACHE, or the old
	// buildpacks' s3://NIX_S3_BUCKET/NIX_APP_NAME.
	Write string
	// WriteFrom names the variables Write came from, for the log.
	WriteFrom string
	// Read are read-only cache URLs (BP_NIX_CACHES, NIX_EXTRA_BINARY_CACHE).
	Read []string
	// Policy says when to build.
	Policy Policy
	// Credentials for s3:// caches; nil uses the AWS credential chain.
	Credentials *Credentials
	// SecretKey signs what is pushed ("name:base64"); empty: unsigned.
	SecretKey string
	// TrustedKeys, when set, refuse unsigned or wrongly signed paths.
	TrustedKeys []string
	// StallTimeout abandons a download that receives nothing for this long
	// (0: no limit).
	StallTimeout time.Duration
}

// Credentials are S3 keys and registry credentials, as the settings or a
// binding give them; the cache's s3:// and oci:// backends take this type
// as it is. Printing them shows nothing secret.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	// DockerConfig is a docker config.json ({"auths": {...}}) for an
	// oci:// cache's registry.
	DockerConfig string
}

// String hides the keys.
func (c Credentials) String() string { return "cache credentials (hidden)" }

// GoString hides the keys from %#v.
func (c Credentials) GoString() string { return "settings.Credentials{(hidden)}" }

// Policy says when the pipeline builds.
type Policy string

// The build policies.
const (
	// BuildMissing restores what the caches have and builds the rest.
	BuildMissing Policy = "missing"
	// BuildAlways builds without looking in the caches first.
	BuildAlways Policy = "always"
	// BuildNever restores from the caches or fails.
	BuildNever Policy = "never"
)

func (r *reader) caches(trusted []string) Caches {
	c := Caches{TrustedKeys: trusted, SecretKey: strings.TrimSpace(r.text(SecretKeyName))}
	for _, name := range []string{CachesName, ExtraCacheName} {
		v := r.value(name)
		for _, u := range strings.Fields(v.text) {
			if !isCacheURL(u) {
				r.fail(name, value{text: RedactURL(u), from: v.from}, "expected binary cache URLs separated by spaces",
					"e.g. https://cache.example.org, oci://ghcr.io/team/app, s3://bucket/prefix or file:///srv/nix-cache")
			}
			c.Read = append(c.Read, u)
		}
	}
	if v := r.value(CacheName); strings.TrimSpace(v.text) != "" {
		c.Write, c.WriteFrom = strings.TrimSpace(v.text), CacheName
		if !isCacheURL(c.Write) {
			r.fail(CacheName, value{text: RedactURL(c.Write), from: v.from}, "expected a binary cache URL",
				"e.g. oci://ghcr.io/team/app, s3://bucket/prefix?region=eu-west-1 or file:///srv/nix-cache")
		}
	}
	c.Policy = r.policy()
	c.StallTimeout = r.limit(StallTimeoutName)
	r.oldS3(&c)
	if c.Credentials == nil {
		if id := strings.TrimSpace(r.text(AWSKeyIDName)); id != "" {
			c.Credentials = &Credentials{AccessKeyID: id, SecretAccessKey: strings.TrimSpace(r.text(AWSSecretName)),
				SessionToken: strings.TrimSpace(r.text(AWSTokenName))}
		}
	}
	return c
}

func isCacheURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Scheme == "file")
}

// policy reads BP_NIX_BUILD_POLICY, or the old buildpacks'
// NIX_BUILD_ON_PUSH (0/false: never build on push) when it is empty.
func (r *reader) policy() Policy {
	v := r.value(PolicyName)
	switch p := Policy(strings.ToLower(strings.TrimSpace(v.text))); p {
	case BuildMissing, BuildAlways, BuildNever:
		return p
	case "":
	default:
		r.fail(PolicyName, v, "expected missing, always or never", "")
		return BuildMissing
	}
	old := r.value(BuildOnPushName)
	switch strings.ToLower(strings.TrimSpace(old.text)) {
	case "", "1", "true", "yes":
		return BuildMissing
	case "0", "false", "no":
		return BuildNever
	}
	r.fail(BuildOnPushName, old, "expected true or false (1 or 0)", "or set "+PolicyName+" to missing, always or never")
	return BuildMissing
}

var appName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// oldS3 reads the old Heroku Nix buildpacks' S3 cache: one app's closure
// under s3://NIX_S3_BUCKET/NIX_APP_NAME.
func (r *reader) oldS3(c *Caches) {
	bucket, key, secret, app := r.value(S3BucketName), r.value(S3KeyName), r.value(S3SecretName), r.value(AppNameName)
	var set []string
	for _, v := range []value{bucket, key, secret} {
		if v.text != "" {
			set = append(set, v.from)
		}
	}
	if len(set) == 0 || r.err != nil {
		return
	}
	are := strings.Join(set, ", ") + " are set"
	if len(set) == 1 {
		are = set[0] + " is set"
	}
	switch {
	case bucket.text == "":
		r.fail(S3BucketName, bucket, "not set, but "+are, "the closure cache needs a bucket: set "+S3BucketName+", or unset "+strings.Join(set, " and "))
	case (key.text == "") != (secret.text == ""):
		have, lack := key, S3SecretName
		if key.text == "" {
			have, lack = secret, S3KeyName
		}
		r.fail(have.from, have, "set, but "+lack+" is not", "set both, or neither to use the AWS credential chain")
	case app.text == "":
		r.fail(AppNameName, app, "not set, but "+are,
			fmt.Sprintf("the closure cache keeps each app's closure under s3://%s/<%s>; set %s (e.g. heroku config:set %s=myapp), or unset %s to build without the S3 cache",
				bucket.text, AppNameName, AppNameName, AppNameName, strings.Join(set, ", ")))
	case !appName.MatchString(app.text):
		r.fail(AppNameName, app, "expected letters, digits, '.', '_' or '-' (it becomes a key prefix in the bucket)", "")
	case strings.ContainsAny(bucket.text, "/ "):
		r.fail(S3BucketName, bucket, "expected a bucket name, without s3:// or a path", "")
	case c.Write != "":
		r.fail(CacheName, value{text: RedactURL(c.Write), from: CacheName}, "set together with "+S3BucketName,
			"keep one: "+CacheName+"=s3://"+bucket.text+"/"+app.text+" is the same cache")
	}
	if r.err != nil {
		return
	}
	c.Write = "s3://" + bucket.text + "/" + url.PathEscape(app.text)
	c.WriteFrom = S3BucketName + "/" + AppNameName
	if key.text != "" {
		c.Credentials = &Credentials{AccessKeyID: key.text, SecretAccessKey: secret.text}
	}
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (r *reader) tarball() Tarball {
	path, sum := r.value(TarballName), r.value(TarballSHA256)
	t := Tarball{Path: strings.TrimSpace(path.text), SHA256: strings.TrimPrefix(strings.ToLower(strings.TrimSpace(sum.text)), "sha256:")}
	switch {
	case t.Path == "" && t.SHA256 != "":
		r.fail(sum.from, sum, "set, but "+TarballName+" is not", "set "+TarballName+" to the local Nix installer tarball the checksum is for")
	case t.Path == "":
	case !strings.HasPrefix(strings.TrimPrefix(t.Path, "file://"), "/"):
		r.fail(path.from, path, "expected an absolute path (or file:// URL) of a Nix installer tarball", "")
	case t.SHA256 != "" && !sha256Hex.MatchString(t.SHA256):
		r.fail(sum.from, sum, "expected 64 hexadecimal digits (sha256sum's output)", "")
	}
	t.Path = strings.TrimPrefix(t.Path, "file://")
	return t
}

// ParseCaches reads only the cache settings (and the trusted keys), for the
// nixbp CLI, which works with the caches the build uses.
func ParseCaches(src Vars) (Caches, error) {
	r := reader{src: src}
	c := r.caches(r.words(TrustedKeysName))
	return c, r.err
}
