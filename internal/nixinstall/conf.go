package nixinstall

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// The binary cache Nix substitutes from unless told otherwise, and the key
// its paths are signed with: Nix's compiled-in defaults (`nix show-config`
// without a nix.conf prints them), and what the Nix manual documents for
// substituters and trusted-public-keys.
const (
	CacheNixOSOrg    = "https://cache.nixos.org"
	CacheNixOSOrgKey = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="
)

// ConnectTimeout bounds each connection attempt to a substituter, in seconds
// (Nix's default, 0, leaves it to curl: 5 minutes against a firewall that
// drops packets). With fallback on, Nix disables an unreachable substituter
// for the rest of the command after the first failed series of attempts.
const ConnectTimeout = 5

// Conf is the Nix configuration the buildpack writes. The zero value is
// a Nix without substituters and without <nixpkgs>; the front-ends start from
// the settings' defaults (cache.nixos.org, channel:nixos-24.11).
type Conf struct {
	// Nixpkgs is what <nixpkgs> resolves to (zero: nothing).
	Nixpkgs Nixpkgs
	// Substituters are the binary caches Nix substitutes from, in order.
	Substituters []string
	// ExtraSubstituters come after Substituters: the user's additions and
	// the closure caches' read URLs.
	ExtraSubstituters []string
	// TrustedPublicKeys verify what substituters serve (they also verify
	// the closure caches).
	TrustedPublicKeys []string
	// ExtraTrustedPublicKeys are trusted by Nix's substituters only.
	ExtraTrustedPublicKeys []string
	// Sandbox is BP_NIX_SANDBOX ("": off, without a probe).
	Sandbox settings.Sandbox
}

// AllSubstituters is the substituters line of nix.conf: Substituters then
// ExtraSubstituters, each once.
func (s Conf) AllSubstituters() []string {
	return uniq(append(append([]string{}, s.Substituters...), s.ExtraSubstituters...), func(u string) string {
		return strings.TrimSuffix(u, "/")
	})
}

// AllTrustedPublicKeys is the trusted-public-keys line of nix.conf: the
// configured keys, plus cache.nixos.org's own when it is a substituter.
func (s Conf) AllTrustedPublicKeys() []string {
	keys := append(append([]string{}, s.TrustedPublicKeys...), s.ExtraTrustedPublicKeys...)
	for _, u := range s.AllSubstituters() {
		if strings.TrimSuffix(u, "/") == CacheNixOSOrg {
			keys = append(keys, CacheNixOSOrgKey)
		}
	}
	return uniq(keys, func(k string) string { return k })
}

func uniq(words []string, key func(string) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range words {
		if !seen[key(w)] {
			seen[key(w)] = true
			out = append(out, w)
		}
	}
	return out
}

// Env is the environment Nix's tools run with: the configuration written by
// Ensure, <nixpkgs>, and a home and cache kept inside the Nix directory, so
// that what Nix downloads (nixpkgs tarballs, narinfo answers) survives with
// the store between builds and nothing is written to the builder's $HOME.
func (n Nix) Env() []string {
	user := os.Getenv("USER")
	if user == "" {
		// Nix needs a user name and asks $USER when the uid has no
		// /etc/passwd entry (as on builders that run as an arbitrary uid).
		user = fmt.Sprintf("uid%d", os.Getuid())
	}
	return []string{
		"USER=" + user,
		// Nix >= 2.20 refuses to run without a home directory, and ignores
		// $HOME when another uid owns it (then asks /etc/passwd, where an
		// arbitrary build uid has no entry).
		"HOME=" + homeDir,
		"NIX_CONF_DIR=/nix/etc/nix",
		"NIX_USER_CONF_FILES=",
		"XDG_CACHE_HOME=/nix/var/nixbp/cache",
		"XDG_CONFIG_HOME=" + homeDir + "/.config",
		"NIX_PATH=" + n.Nixpkgs.PathEntry(),
	}
}

// homeDir is $HOME for Nix's tools, inside the /nix view.
const homeDir = "/nix/var/nixbp/home"

// makeStateDirs creates what Nix's tools need before their first run:
// /nix/var/nix (without it, Nix >= 2.20 run by a non-root user silently uses
// a chroot store under $HOME/.local/share/nix/root instead of /nix/store),
// $HOME and the cache directory.
func makeStateDirs(dir string) error {
	for _, d := range []string{"var/nix", "var/nixbp/home", "var/nixbp/cache"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("unable to create %s\n%w", filepath.Join(dir, d), err)
		}
	}
	return nil
}

func writeConf(dir string, s Conf, sb Sandbox) error {
	confDir := filepath.Join(dir, "etc", "nix")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return fmt.Errorf("unable to create %s\n%w", confDir, err)
	}
	if err := makeStateDirs(dir); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# Written by nix-buildpack on every build.\n")
	fmt.Fprintf(&b, "substituters = %s\n", strings.Join(s.AllSubstituters(), " "))
	fmt.Fprintf(&b, "trusted-public-keys = %s\n", strings.Join(s.AllTrustedPublicKeys(), " "))
	// An unreachable substituter costs one bounded series of attempts per
	// Nix command, then Nix builds what it could not substitute.
	fmt.Fprintf(&b, "connect-timeout = %d\nfallback = true\n", ConnectTimeout)
	b.WriteString("build-users-group =\nexperimental-features = nix-command\n")
	b.WriteString(sb.conf())
	p := filepath.Join(confDir, "nix.conf")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("unable to write %s\n%w", p, err)
	}
	return nil
}
