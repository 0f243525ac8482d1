package settings

// The settings' names. The build reads BP_NIX_* (and the old buildpacks'
// NIX_* names), the launcher NIXBP_*, and the nixbp CLI the build's names.
const (
	StrategyName       = "BP_NIX_STRATEGY"
	BuildArgsName      = "BP_NIX_BUILD_ARGS"
	SubstitutersName   = "BP_NIX_SUBSTITUTERS"
	TrustedKeysName    = "BP_NIX_TRUSTED_PUBLIC_KEYS"
	NixpkgsName        = "BP_NIX_NIXPKGS"
	ExtraSubstName     = "BP_NIX_EXTRA_SUBSTITUTERS"
	ExtraKeysName      = "BP_NIX_EXTRA_TRUSTED_PUBLIC_KEYS"
	FlakeAttrName      = "BP_NIX_FLAKE_ATTR"
	BuildTimeoutName   = "BP_NIX_BUILD_TIMEOUT"
	MaxSilentName      = "BP_NIX_MAX_SILENT_TIME"
	VersionName        = "BP_NIX_VERSION"
	TarballName        = "BP_NIX_TARBALL"
	TarballSHA256      = "BP_NIX_TARBALL_SHA256"
	CacheName          = "BP_NIX_CACHE"
	CachesName         = "BP_NIX_CACHES"
	ExtraCacheName     = "NIX_EXTRA_BINARY_CACHE"
	PolicyName         = "BP_NIX_BUILD_POLICY"
	BuildOnPushName    = "NIX_BUILD_ON_PUSH"
	SecretKeyName      = "BP_NIX_CACHE_SECRET_KEY"
	StallTimeoutName   = "BP_NIX_STALLED_DOWNLOAD_TIMEOUT"
	S3BucketName       = "NIX_S3_BUCKET"
	S3KeyName          = "NIX_S3_KEY"
	S3SecretName       = "NIX_S3_SECRET"
	AppNameName        = "NIX_APP_NAME"
	PruneGuardName     = "BP_NIX_PRUNE_GUARD"
	EmptyDirsName      = "BP_NIX_PRUNE_EMPTY_DIRS"
	SizeLimitName      = "BP_NIX_SIZE_LIMIT"
	MaxLayersName      = "BP_NIX_MAX_LAYERS"
	GCName             = "BP_NIX_GC"
	RelocateName       = "BP_NIX_RELOCATE"
	RelocateAppDirName = "BP_NIX_RELOCATE_APP_DIR"
	RelocateCheckName  = "BP_NIX_RELOCATE_CHECK"
	CacheMaxSizeName   = "BP_NIX_CACHE_MAX_SIZE"
	SandboxName        = "BP_NIX_SANDBOX"
	AWSKeyIDName       = "AWS_ACCESS_KEY_ID"
	AWSSecretName      = "AWS_SECRET_ACCESS_KEY"
	AWSTokenName       = "AWS_SESSION_TOKEN"

	LaunchStrategyName = "NIXBP_STRATEGY"
	LaunchQuietName    = "NIXBP_QUIET"
	LaunchReleaseName  = "NIXBP_RELEASE"
)

// All lists every setting, in the order the log shows them.
var All = []Setting{
	{Name: StrategyName, Aliases: []string{"NIX_STRATEGY"}, Default: "auto",
		Description: "how /nix is made visible at build time: auto (first that works), native, userns or proot"},
	{Name: BuildArgsName, Aliases: []string{"NIX_BUILD_FLAGS"},
		Description: "extra nix-build options, checked against nix-build's own (e.g. --cores 2 --option max-jobs 2)"},
	{Name: NixpkgsName, Default: "channel:nixos-24.11",
		Description: "what <nixpkgs> is (Hop3's channel by default): channel:<name>, an https:// tarball URL (pin a commit: https://github.com/NixOS/nixpkgs/archive/<commit>.tar.gz), a file:// URL or absolute path, or a directory or tarball in the app; hop3.toml [build.nix] nixpkgs wins"},
	{Name: SubstitutersName, Default: "https://cache.nixos.org",
		Description: "binary caches Nix substitutes from, space separated, replacing the default; none: no substituter (air-gapped builders). An unreachable one costs a few seconds, then Nix builds"},
	{Name: ExtraSubstName,
		Description: "binary caches added after BP_NIX_SUBSTITUTERS, space separated (the http(s):// and file:// closure caches are added too when a key is trusted)"},
	{Name: TrustedKeysName,
		Description: "public keys (name:base64) that substituted and restored paths must be signed with (cache.nixos.org's key is added while it is a substituter)"},
	{Name: ExtraKeysName,
		Description: "more public keys (name:base64) trusted for Nix's substituters only, e.g. for a BP_NIX_EXTRA_SUBSTITUTERS cache"},
	{Name: FlakeAttrName,
		Description: "the flake output built for an app with flake.nix (empty: packages.<system>.default); hop3.toml [build.nix] attr wins"},
	{Name: BuildTimeoutName, Default: "30m",
		Description: "stop a Nix build running longer than this (seconds or a duration such as 30m; 0: no limit), as Hop3 does"},
	{Name: MaxSilentName, Default: "5m",
		Description: "stop a Nix build that prints nothing for this long (seconds or a duration; 0: no limit), as Hop3 does"},
	{Name: VersionName, Default: "2.*",
		Description: "the Nix version to install, a semver constraint over the Nix dependencies of buildpack.toml"},
	{Name: TarballName, Aliases: []string{"NIXBP_NIX_TARBALL"},
		Description: "install Nix from this local installer tarball (absolute path or file:// URL) instead of the pinned download"},
	{Name: TarballSHA256, Aliases: []string{"NIXBP_NIX_TARBALL_SHA256"},
		Description: "the sha256 BP_NIX_TARBALL must have (empty: the buildpack.toml pin)"},
	{Name: CacheName, URLs: true,
		Description: "read-write closure cache: oci://registry/repository (the image's own: layers not sent twice), s3://bucket/prefix?region=..&endpoint=.., file:///dir; secrets in a binding of type nix-cache"},
	{Name: CachesName, URLs: true,
		Description: "read-only closure caches (http(s)://, oci://, s3://, file://), space separated"},
	{Name: ExtraCacheName, URLs: true,
		Description: "the old buildpacks' read-only binary caches, added to BP_NIX_CACHES"},
	{Name: PolicyName,
		Description: "missing (restore, build the rest), always (build, no restore), never (restore or fail); empty reads NIX_BUILD_ON_PUSH, else missing"},
	{Name: BuildOnPushName,
		Description: "the old buildpacks' switch: 0 or false means BP_NIX_BUILD_POLICY=never"},
	{Name: SecretKeyName, Aliases: []string{"NIXBP_CACHE_SECRET_KEY"}, Secret: true,
		Description: "the Nix signing key (name:base64) for what is pushed; under CNB prefer the nix-cache binding's secret-key"},
	{Name: StallTimeoutName, Default: "300",
		Description: "abandon a closure cache download that receives nothing for this long (seconds or a duration; 0: no limit), as Nix's stalled-download-timeout; it is retried, then the path is built"},
	{Name: S3BucketName,
		Description: "the old buildpacks' S3 closure cache: s3://NIX_S3_BUCKET/NIX_APP_NAME"},
	{Name: S3KeyName, Secret: true, Description: "the old buildpacks' S3 access key id"},
	{Name: S3SecretName, Secret: true, Description: "the old buildpacks' S3 secret key"},
	{Name: AppNameName, Description: "the app's key prefix in NIX_S3_BUCKET"},
	{Name: PruneGuardName, Default: "true",
		Description: "fail the build when .slugexclude removes a store path runtime.json names or a kept path references (false: warn only)"},
	{Name: EmptyDirsName, Default: "false",
		Description: "drop directories left empty by .slugexclude, as rsync --prune-empty-dirs"},
	{Name: SizeLimitName, Default: "0",
		Description: "warn when the pruned runtime closure is larger than this (e.g. 500MB, 2GiB; 0: no limit)"},
	{Name: MaxLayersName, Default: "100",
		Description: "the most image layers the runtime closure is split into (one per store path for the most shared, the rest grouped; Docker fails beyond about 125 layers in all)"},
	{Name: GCName, Default: "true",
		Description: "collect garbage in the build cache's Nix store after each build, keeping Nix, the output, its build inputs and the previous output (false: keep every path, for a shared, hand-managed store)"},
	{Name: CacheMaxSizeName, Default: "2GiB",
		Description: "bound on the build cache's Nix store after collection (NAR sizes); over it the previous output, then the build inputs are dropped, never Nix or the output (e.g. 500MB, 2GiB; 0: no bound)"},
	{Name: SandboxName, Default: "auto",
		Description: "Nix's build sandbox (no network but for fixed-output derivations, only declared inputs visible): auto (on where user namespaces allow it, off under proot, the log says why), true (fail the build when it cannot be had), false"},
	{Name: RelocateName, Default: "auto",
		Description: "Heroku-style slugs: copy the closure to <app dir>/.nixs with its store paths rewritten, so it runs with no /nix, user namespaces or ptrace (auto: when the app dir is known and the check passes, else keep the store with a warning, unless compile could not show the store at /nix either (a dyno): then relocate anyway, with a warning; always: relocate, to a /tmp link the launcher makes when the app dir is unknown or too long, and fail when the check fails; never). CNB: the store layers hold the closure rewritten for /tmp/.nixs, a link the launcher makes to the view layer, so the image runs on a stock run image (auto: when the builder shows /nix neither natively nor through user namespaces and the check passes; always: relocate, failing when the check fails; never)"},
	{Name: RelocateAppDirName,
		Description: "the app's directory at run time; at most 4 bytes for <dir>/.nixs to be as long as /nix/store, longer ones use a /tmp link (empty: /app when compile runs with HOME or BUILD_DIR at /app, as on Heroku and Dokku)"},
	{Name: RelocateCheckName, Default: "fail",
		Description: "what BP_NIX_RELOCATE=always does when the relocatability check finds files the rewrite breaks: fail, or warn and relocate anyway"},
	{Name: AWSKeyIDName, Secret: true, External: true, Description: "AWS access key id for s3:// caches"},
	{Name: AWSSecretName, Secret: true, External: true, Description: "AWS secret access key for s3:// caches"},
	{Name: AWSTokenName, Secret: true, External: true, Description: "AWS session token for s3:// caches"},

	{Name: LaunchStrategyName, Default: "auto", Phase: Launch,
		Description: "how /nix is made visible when the app runs: auto (a relocated closure when the build made one, else native, then userns, then proot), native, relocate, userns or proot"},
	{Name: LaunchQuietName, Default: "false", Phase: Launch,
		Description: "true: nixbp-launch does not log the /nix strategy it took"},
	{Name: LaunchReleaseName, Default: "auto", Phase: Launch,
		Description: "auto: the web process runs hop3.toml's release task (before-run, prerun) first, unless the platform has a release phase; " +
			"skip: it does not (the platform runs the process type release itself, e.g. as a Kubernetes Job)"},
}
