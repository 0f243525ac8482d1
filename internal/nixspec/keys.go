package nixspec

import "sort"

// Templates are the names Hop3's generator knows (hop3-server
// plugins/build/nix/gen/registry.py), in the order the docs list them.
var Templates = []string{"nixpkgs-wrapper", "python-venv", "php-app", "go-source", "node-pnpm-install",
	"ruby-bundler", "java-gradle", "java-war", "node-prebuilt", "prebuilt-binary", "prebuilt-archive"}

// coreKeys are read by every template: the selector, the fetched source,
// and the two arrays of tables any template may carry (Hop3's toml_adapter
// _CORE_KEYS).
var coreKeys = []string{"template", "url", "sha256", "executable", "archive", "version", "config-files", "conditional-env"}

// sharedKeys are the keys every template accepts (Hop3's _SHARED_FIELDS).
var sharedKeys = []string{"source-root", "strip-components", "runtime-package", "nixpkgs-rev", "nixpkgs-sha256",
	"exec-target", "exec-args", "local-vars", "env-exports", "pre-exec", "writable-home-at-runtime",
	"writable-home-env-var", "runtime-env", "extra-paths", "nix-runtime-libs"}

// templateKeys are each template's own keys (Hop3's _PAYLOAD_FIELDS): a key
// of another template is refused, naming its owner.
var templateKeys = map[string][]string{
	"prebuilt-binary":  {"binary-name"},
	"prebuilt-archive": {"file-mappings"},
	"node-prebuilt":    {"unpack-without-top-level"},
	"java-war":         {"war-file", "jvm-default-opts"},
	"ruby-bundler":     {},
	"python-venv":      {"pip-requirements", "pip-deps-hash"},
	"node-pnpm-install": {"npm-package", "node-manifest", "node-lockfile", "node-deps-hash", "node-pnpm-package",
		"node-native-packages"},
	"java-gradle": {"gradle-deps-json", "gradle-patches", "gradle-flags", "gradle-jar-glob", "gradle-jar-name"},
	"nixpkgs-wrapper": {"nixpkgs-package", "install-extra", "exec-prefix", "nixpkgs-overrides", "let-extra",
		"env-exports-raw"},
	"php-app": {"php-version", "php-extensions", "needs-composer", "composer-deps-hash", "composer-strict-validation",
		"composer-extra-flags", "serve-mode", "web-root", "post-install-dirs", "single-file", "skip-source-copy",
		"needs-writable-dir", "extra-native-build-inputs", "install-files"},
	"go-source": {"go-vendor-hash", "go-sub-packages", "go-ldflags", "go-proxy-vendor", "go-version", "go-static-dirs",
		"go-frontend-build", "go-npm-deps-hash", "go-frontend-output", "go-frontend-source-root", "go-frontend-pnpm",
		"go-pnpm-deps-hash", "go-pnpm-package", "go-frontend-node-package", "go-frontend-embed-path"},
}

// retiredKeys were removed by a change of Hop3's design; the error says what
// to do instead.
var retiredKeys = map[string]string{
	"pip-packages": "bare package names are unpinned and unhashed, so the build can be neither reproduced nor run offline; " +
		"ship a hash-pinned lockfile and set pip-requirements (python-venv), or list the package in the committed manifest (node-pnpm-install)",
}

// entryKeys are the keys of each entry of the arrays of tables.
var entryKeys = map[string][]string{
	"config-files":    {"path", "format", "sections", "raw-content", "create-if-missing"},
	"conditional-env": {"name", "condition-var", "value"},
	"file-mappings":   {"source", "destination", "recursive", "executable"},
}

// knownKeys are the keys template accepts, sorted.
func knownKeys(template string) []string {
	keys := append(append(append([]string{}, coreKeys...), sharedKeys...), templateKeys[template]...)
	sort.Strings(keys)
	return keys
}

// owners are the templates whose own key key is, sorted.
func owners(key string) []string {
	var out []string
	for t, keys := range templateKeys {
		for _, k := range keys {
			if k == key {
				out = append(out, t)
			}
		}
	}
	sort.Strings(out)
	return out
}

func isTemplate(name string) bool {
	for _, t := range Templates {
		if t == name {
			return true
		}
	}
	return false
}
