// Package relocate copies a runtime closure out of /nix/store into another
// directory of the same byte length, rewriting every "/nix/store/" in file
// contents and symlink targets, so that its programs run natively where
// there is no /nix (a Heroku dyno, a stock image under a seccomp profile
// that refuses user namespaces and ptrace). Nix itself rewrites
// self-references the same way: a substitution of equal length keeps ELF
// offsets, string lengths and file sizes valid.
//
// relocate/check then compares the relocated copy with the original and
// reports what the substitution could not reach: store paths inside
// compressed data, other encodings of the store directory, broken
// checksums. Slug and CopyAndCheck with Judge are the step the front-ends
// run: copy, check, and decide by Options whether the relocated copy ships.
package relocate

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// StoreDir is the store directory every closure is built for.
const StoreDir = "/nix/store"

// storePrefix is what the rewrite replaces: the store directory with its
// trailing slash, as every store path starts.
const storePrefix = StoreDir + "/"

// Prefix is the directory that replaces StoreDir in a relocated closure: an
// absolute path of exactly len(StoreDir) bytes, padded with slashes when the
// directory's name is shorter (Linux treats "//" as "/"). A relocated store
// path /nix/store/<hash>-name becomes <Prefix>/<hash>-name, and the tree
// must be at Prefix when its programs run.
type Prefix string

// ParsePrefix turns a directory into a Prefix: it must be absolute, at most
// as long as /nix/store, and neither the store directory itself nor inside
// it. A shorter directory is padded with slashes before its last component
// ("/a/.nixs" becomes "/a///.nixs").
func ParsePrefix(dir string) (Prefix, error) {
	clean := path.Clean(dir)
	switch {
	case dir == "" || !strings.HasPrefix(dir, "/"):
		return "", fmt.Errorf("relocation directory %q must be an absolute path", dir)
	case clean == "/":
		return "", fmt.Errorf("relocation directory %q must not be /", dir)
	case len(clean) > len(StoreDir):
		return "", fmt.Errorf("relocation directory %s is %d bytes long; it must be at most %d, as long as %s, "+
			"so that every rewritten path keeps its length (choose a shorter directory, e.g. /app/.nixs with the app at /app)",
			clean, len(clean), len(StoreDir), StoreDir)
	case clean == StoreDir || strings.HasPrefix(clean, storePrefix) || strings.HasPrefix(StoreDir, clean+"/"):
		return "", fmt.Errorf("relocation directory %s overlaps %s; choose a directory outside /nix", clean, StoreDir)
	}
	i := strings.LastIndex(clean, "/")
	return Prefix(clean[:i] + strings.Repeat("/", len(StoreDir)-len(clean)) + clean[i:]), nil
}

// Dir is the directory without padding, as a user names it.
func (p Prefix) Dir() string { return path.Clean(string(p)) }

// StorePath maps a store path (or a file inside one) to its relocated
// form; other strings are returned unchanged.
func (p Prefix) StorePath(s string) string {
	return strings.ReplaceAll(s, storePrefix, string(p)+"/")
}

// storeSpelling is the store directory at the start of an absolute path,
// however spelled: extra slashes and "." components ("/nix//store/",
// "/nix/./store/", "//nix/store/"), which the kernel resolves as
// "/nix/store/".
var storeSpelling = regexp.MustCompile(`^(/+\.)*/+nix(/+\.)*/+store/+`)

// SymlinkTarget maps a symlink's target to its relocated form: an absolute
// target in the store, however its store directory is spelled, is
// normalised and relocated; any other target is returned unchanged (a
// relative one moves with the tree).
func (p Prefix) SymlinkTarget(target string) string {
	if m := storeSpelling.FindString(target); m != "" {
		target = storePrefix + target[len(m):]
	}
	return p.StorePath(target)
}
