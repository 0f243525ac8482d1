// Package nixenv builds the environment of every Nix command the buildpack
// runs (evaluation, build, realisation, queries, collection), from an
// allow-list: the few variables Nix needs from the buildpack's environment,
// then the ones the caller sets. Nothing else of the buildpack's environment
// reaches Nix: not the platform's settings (a CNB lifecycle exports
// platform/env into the buildpack's environment), not a secret (S3 keys,
// the cache's signing key, a binding's values), not ENV_DIR. An app's Nix
// code can read its evaluator's environment (builtins.getEnv) and hand it
// to a fixed-output derivation (impureEnvVars), so a deny-list would leak
// every secret it forgot; an allow-list leaks only what it names.
//
// Every process start of the product is listed in this package's test
// (sites_test.go): a new one that runs Nix without this package fails it.
package nixenv

import (
	"os"
	"strings"
)

// inherited are the variables a Nix command takes from the buildpack's
// environment, none of them a setting of the buildpack:
var inherited = []string{
	// Nix runs git, ssh, tar and the like for its fetchers.
	"PATH",
	// Where Nix makes build directories (and the userns strategy its new root).
	"TMPDIR",
	// Messages and timestamps.
	"LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ",
	// Downloads (substituters, fetchers, <nixpkgs> channels) through the
	// user's proxy; a fixed-output derivation may read them too, as Nix's
	// fetchers do (impureEnvVars).
	"http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy",
	"HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "ALL_PROXY", "NO_PROXY",
	// The certificate authorities Nix's curl trusts (a corporate CA).
	"NIX_SSL_CERT_FILE", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE",
	// proot's own switches, for the proot strategy (the user's choice).
	"PROOT_NO_SECCOMP", "PROOT_TMP_DIR",
}

// hostNix are the variables that locate a Nix installed on the host and its
// store (a daemon, a store elsewhere, the user's nix.conf), for the nixbp
// commands that run the host's nix-store. The buildpack's own Nix gets its
// configuration from the variables its caller sets instead.
var hostNix = []string{
	"HOME", "USER",
	"NIX_REMOTE", "NIX_DAEMON_SOCKET_PATH", "NIX_STORE_DIR", "NIX_STATE_DIR", "NIX_LOG_DIR",
	"NIX_CONF_DIR", "NIX_USER_CONF_FILES", "NIX_CONFIG",
	"XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
}

// Build is the environment of a command of the buildpack's own Nix: the
// allowed variables of this process's environment, then set (NAME=VALUE
// entries: the configuration, HOME, NIX_PATH), which win.
func Build(set ...string) []string {
	return From(os.Environ(), inherited, set)
}

// Host is the environment of a command of the host's Nix (nixbp against the
// store it is given): Build's allowed variables and those that locate the
// host's Nix and the user's own configuration of it (NIX_CONFIG: nixbp's
// Nix commands evaluate no app code), then set.
func Host(set ...string) []string {
	return From(os.Environ(), append(append([]string{}, inherited...), hostNix...), set)
}

// From keeps the entries of environ whose names are in allowed, then
// appends set; a name given more than once keeps its last value, so set
// wins over environ.
func From(environ, allowed, set []string) []string {
	ok := make(map[string]bool, len(allowed))
	for _, name := range allowed {
		ok[name] = true
	}
	var out []string
	index := map[string]int{}
	add := func(kv string) {
		name, _, found := strings.Cut(kv, "=")
		if !found || name == "" {
			return
		}
		if i, seen := index[name]; seen {
			out[i] = kv
			return
		}
		index[name] = len(out)
		out = append(out, kv)
	}
	for _, kv := range environ {
		if name, _, _ := strings.Cut(kv, "="); ok[name] {
			add(kv)
		}
	}
	for _, kv := range set {
		add(kv)
	}
	return out
}
