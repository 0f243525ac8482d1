package nixinstall

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// DefaultNixpkgs is the channel Hop3's server installer subscribes its Nix
// to as nixpkgs (hop3_installer/server_installer/nix.py), so that an app's
// `import <nixpkgs> {}` evaluates here as it does on a Hop3 server.
const DefaultNixpkgs = "channel:nixos-24.11"

// PinHint is the one-line advice logged when <nixpkgs> follows a channel.
const PinHint = "a channel moves: the same app can build against another nixpkgs tomorrow; " +
	"pin a commit with https://github.com/NixOS/nixpkgs/archive/<commit>.tar.gz"

// Nixpkgs is where <nixpkgs> comes from in evaluations and builds.
type Nixpkgs struct {
	// Spec is what was asked for: channel:<name>, an http(s):// or file://
	// URL, an absolute path, or a path inside the app.
	Spec string
	// Entry is its NIX_PATH value: a tarball URL, which Nix downloads into
	// the store (and keeps for tarball-ttl), or a directory.
	Entry string
	// Unpacked, when set, is the store path the buildpack unpacked Entry's
	// tarball into (package nixpkgs): NIX_PATH names it instead of Entry.
	Unpacked string
}

// PathEntry is the NIX_PATH value, nixpkgs=<Unpacked or Entry>, or "" for
// none.
func (n Nixpkgs) PathEntry() string {
	switch {
	case n.Unpacked != "":
		return "nixpkgs=" + n.Unpacked
	case n.Entry == "":
		return ""
	}
	return "nixpkgs=" + n.Entry
}

// Tarball says whether Entry is a tarball URL Nix would download and
// unpack (not a directory).
func (n Nixpkgs) Tarball() bool { return strings.Contains(n.Entry, "://") }

// String names the source for the log.
func (n Nixpkgs) String() string {
	if n.Entry == "" || n.Entry == n.Spec {
		return n.Spec
	}
	return n.Spec + " (" + n.Entry + ")"
}

var (
	channelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	pinnedRev   = regexp.MustCompile(`/archive/[0-9a-f]{40}\.tar\.(gz|xz)$`)
)

// Moves says whether the source follows a branch, so that the same spec can
// give another nixpkgs later: a channel, or a branch's archive.
func (n Nixpkgs) Moves() bool {
	switch {
	case strings.HasPrefix(n.Spec, "channel:"):
		return true
	case strings.Contains(n.Entry, "nixos.org/channels/"), strings.Contains(n.Entry, "/archive/refs/heads/"):
		return true
	case strings.HasPrefix(n.Entry, "https://github.com/") && strings.Contains(n.Entry, "/archive/"):
		return !pinnedRev.MatchString(n.Entry)
	}
	return false
}

// ParseNixpkgs resolves a nixpkgs spec: channel:<name> (as Nix does, the
// channel's nixexprs.tar.xz on nixos.org), an http(s):// tarball URL, a
// file:// URL or an absolute path of a tarball or a directory, or a tarball
// or directory relative to appDir. An empty spec is no nixpkgs.
func ParseNixpkgs(spec, appDir string) (Nixpkgs, error) {
	spec = strings.TrimSpace(spec)
	n := Nixpkgs{Spec: spec}
	switch {
	case spec == "":
		return Nixpkgs{}, nil
	case strings.HasPrefix(spec, "channel:"):
		name := strings.TrimPrefix(spec, "channel:")
		if !channelName.MatchString(name) {
			return n, fmt.Errorf("%q: expected channel:<name>, e.g. channel:nixos-24.11", spec)
		}
		n.Entry = "https://nixos.org/channels/" + name + "/nixexprs.tar.xz"
	case strings.HasPrefix(spec, "http://"), strings.HasPrefix(spec, "https://"):
		u, err := url.Parse(spec)
		if err != nil || u.Host == "" || strings.ContainsAny(spec, " \t") {
			return n, fmt.Errorf("%q is not a URL: expected a tarball URL such as https://github.com/NixOS/nixpkgs/archive/<commit>.tar.gz", spec)
		}
		n.Entry = spec
	case strings.HasPrefix(spec, "file://"):
		u, err := url.Parse(spec)
		if err != nil || u.Host != "" && u.Host != "localhost" || !filepath.IsAbs(u.Path) {
			return n, fmt.Errorf("%q: expected file:///absolute/path of a nixpkgs tarball or directory", spec)
		}
		path := filepath.Clean(u.Path)
		if _, err := os.Stat(path); err != nil {
			// A tarball Nix fetched before is served from its tarball
			// cache: Nix says what is wrong if it is not there either.
			n.Entry = spec
			return n, nil
		}
		return local(n, path)
	case strings.Contains(spec, "://"):
		return n, fmt.Errorf("%q: unsupported scheme; expected channel:<name>, an https:// or file:// URL, or a path inside the app", spec)
	case filepath.IsAbs(spec):
		return local(n, filepath.Clean(spec))
	default:
		clean := filepath.Clean(spec)
		if clean == ".." || strings.HasPrefix(clean, "../") {
			return n, fmt.Errorf("%q must be a path inside the app (relative to its root), or an absolute path", spec)
		}
		return local(n, filepath.Join(appDir, clean))
	}
	return n, nil
}

// local makes a NIX_PATH entry of a local directory (used in place) or
// tarball (a file:// URL, which Nix unpacks into the store).
func local(n Nixpkgs, path string) (Nixpkgs, error) {
	if strings.ContainsAny(path, ": \t") {
		return n, fmt.Errorf("%q: a nixpkgs path cannot contain ':' or spaces (NIX_PATH separates entries with ':')", n.Spec)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return n, fmt.Errorf("%q: %s does not exist\ngive a nixpkgs directory (with default.nix) or tarball", n.Spec, path)
	}
	if fi.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "default.nix")); err != nil {
			return n, fmt.Errorf("%q: the directory %s has no default.nix, so it is not a nixpkgs", n.Spec, path)
		}
		n.Entry = path
		return n, nil
	}
	n.Entry = "file://" + path
	return n, nil
}

// NixpkgsRootDir holds the GC root of the store path Nix unpacked a
// <nixpkgs> tarball into (relative to the Nix directory).
const NixpkgsRootDir = "var/nix/gcroots/nixbp-nixpkgs"

// KeepNixpkgs roots the store path Nix unpacked a <nixpkgs> tarball into,
// so that a collection of the store between builds keeps it and the next
// build finds it through Nix's tarball cache instead of downloading it
// again. It does nothing when <nixpkgs> is a directory, or when no Nix
// command has fetched it (an app that does not import <nixpkgs>: evaluating
// it here would download it for nothing). It returns the store path kept.
func (n Nix) KeepNixpkgs() (string, error) {
	dir := filepath.Join(n.Dir, NixpkgsRootDir)
	if n.Nixpkgs.Unpacked != "" {
		return n.Nixpkgs.Unpacked, rootAt(dir, n.Nixpkgs.Unpacked)
	}
	if !n.Nixpkgs.Tarball() || !fetched(filepath.Join(n.Dir, "var", "nixbp", "cache"), n.Nixpkgs.Entry) {
		return "", os.RemoveAll(dir)
	}
	out, err := n.Command("nix-instantiate", "--eval", "--json", "-E", "builtins.toString <nixpkgs>").Output()
	if err != nil {
		return "", fmt.Errorf("unable to find where <nixpkgs> (%s) was unpacked\n%w", n.Nixpkgs.Entry, err)
	}
	path := strings.Trim(strings.TrimSpace(string(out)), `"`)
	parts := strings.SplitN(strings.TrimPrefix(path, "/nix/store/"), "/", 2)
	if !strings.HasPrefix(path, "/nix/store/") || parts[0] == "" {
		return "", fmt.Errorf("<nixpkgs> (%s) is %q, not a store path", n.Nixpkgs.Entry, path)
	}
	storePath := "/nix/store/" + parts[0]
	return storePath, rootAt(dir, storePath)
}

// rootAt makes dir hold one GC root, nixpkgs -> storePath.
func rootAt(dir, storePath string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("unable to create %s\n%w", dir, err)
	}
	if err := os.Symlink(storePath, filepath.Join(dir, "nixpkgs")); err != nil {
		return fmt.Errorf("unable to write the GC root of %s\n%w", storePath, err)
	}
	return nil
}

// KeptNixpkgs is the store path KeepNixpkgs rooted, "" when none.
func (n Nix) KeptNixpkgs() string {
	target, err := os.Readlink(filepath.Join(n.Dir, NixpkgsRootDir, "nixpkgs"))
	if err != nil {
		return ""
	}
	return target
}

// fetched says whether Nix's cache under cacheDir mentions url: Nix records
// each tarball it downloads in its fetcher cache, an SQLite database whose
// text (the URL) is stored as is.
func fetched(cacheDir, url string) bool {
	found := false
	_ = filepath.WalkDir(cacheDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || found || d.IsDir() || !strings.Contains(d.Name(), "fetcher-cache") {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil && strings.Contains(string(data), url) {
			found = true
		}
		return nil
	})
	return found
}

// NixpkgsRevision is the nixpkgs commit <nixpkgs> is, for the SBOM: the commit
// in an archive URL (…/archive/<commit>.tar.gz), else the .git-revision
// file channel tarballs carry, in the directory or in unpacked (the store
// path Nix unpacked a tarball into, KeepNixpkgs); "" when unknown.
func (n Nix) NixpkgsRevision(unpacked string) string {
	if m := pinnedRev.FindString(n.Nixpkgs.Entry); m != "" {
		return strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(m, "/archive/"), ".tar.gz"), ".tar.xz")
	}
	dir := ""
	switch {
	case unpacked != "":
		dir = filepath.Join(n.Dir, strings.TrimPrefix(unpacked, "/nix/"))
	case n.Nixpkgs.Entry != "" && !strings.Contains(n.Nixpkgs.Entry, "://"):
		dir = n.Nixpkgs.Entry
	default:
		return ""
	}
	data, err := os.ReadFile(filepath.Join(dir, ".git-revision"))
	if rev := strings.TrimSpace(string(data)); err == nil && gitRevision.MatchString(rev) {
		return rev
	}
	return ""
}

var gitRevision = regexp.MustCompile(`^[0-9a-f]{7,40}$`)
