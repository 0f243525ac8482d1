// Package narinfo holds what Nix records about a store path, and the text
// formats that carry it: PathInfo (the Nix database's record of a valid
// path) and its validity registration format (nix-store --dump-db,
// --load-db), NarInfo (a binary cache's <hash>.narinfo: the record and where
// its NAR is stored), and the ed25519 signatures over a path's fingerprint.
// It knows nothing of NAR contents, caches or transports.
package narinfo

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/nix-community/go-nix/pkg/nixhash"
	"github.com/nix-community/go-nix/pkg/storepath"
)

// StoreDir is the logical store directory every record here describes.
const StoreDir = storepath.StoreDir

// PathInfo is what the Nix database records about one valid store path; it
// is the unit Fetch returns, Push takes, and the registration format carries.
type PathInfo struct {
	StorePath  string   // full store path, /nix/store/<hash>-<name>
	NarHash    string   // "sha256:<nixbase32>" of the path's NAR serialisation
	NarSize    uint64   // length of the NAR serialisation in bytes
	References []string // full store paths this path refers to, sorted
	Deriver    string   // full store path of the .drv that built it, or ""
	CA         string   // content address from a narinfo ("fixed:r:sha256:..."), or ""
}

// CheckStorePath returns an error unless p is a full, syntactically valid
// store path.
func CheckStorePath(p string) error {
	if err := storepath.Validate(p); err != nil {
		return fmt.Errorf("%q is not a store path under %s: %w", p, StoreDir, err)
	}
	return nil
}

// HashPart returns the nixbase32 hash part of a store path, which names its
// narinfo in a cache.
func HashPart(storePath string) string {
	base := path.Base(storePath)
	if i := strings.IndexByte(base, '-'); i > 0 {
		return base[:i]
	}
	return base
}

// NormalizeHash parses a SHA-256 hash in any encoding Nix writes (base16,
// nixbase32, base64, SRI, with or without "sha256:") and returns it as
// "sha256:<nixbase32>", the form narinfos and PathInfo use.
func NormalizeHash(s string) (string, error) {
	algo := nixhash.SHA256
	h, err := nixhash.ParseAny(s, &algo)
	if err != nil {
		return "", fmt.Errorf("invalid NAR hash %q: %w", s, err)
	}
	return h.Format(nixhash.NixBase32, true), nil
}

// HashDigest returns the raw SHA-256 digest of a hash as PathInfo keeps
// it ("sha256:<nixbase32>", or any encoding NormalizeHash reads).
func HashDigest(s string) ([]byte, error) {
	algo := nixhash.SHA256
	h, err := nixhash.ParseAny(s, &algo)
	if err != nil {
		return nil, fmt.Errorf("invalid NAR hash %q: %w", s, err)
	}
	return h.Digest(), nil
}

// FormatSHA256 writes a SHA-256 digest as PathInfo and narinfos keep it:
// "sha256:<nixbase32>".
func FormatSHA256(digest []byte) string {
	return nixhash.MustNewHashWithEncoding(nixhash.SHA256, digest, nixhash.NixBase32, true).String()
}

// Validate checks that every path in info is a store path and that NarHash
// parses, so a bad PathInfo is refused before any work is done with it.
func (info *PathInfo) Validate() error {
	if err := CheckStorePath(info.StorePath); err != nil {
		return err
	}
	if _, err := HashDigest(info.NarHash); err != nil {
		return fmt.Errorf("%s: %w", info.StorePath, err)
	}
	for _, r := range info.References {
		if err := CheckStorePath(r); err != nil {
			return fmt.Errorf("%s: reference: %w", info.StorePath, err)
		}
	}
	if info.Deriver != "" {
		if err := CheckStorePath(info.Deriver); err != nil {
			return fmt.Errorf("%s: deriver: %w", info.StorePath, err)
		}
	}
	return nil
}

// sortedRefs returns the references sorted, as Nix keeps them (a set).
func sortedRefs(refs []string) []string {
	out := append([]string(nil), refs...)
	sort.Strings(out)
	return out
}

// ReferencesFirst orders infos so that every path comes after the paths it
// refers to (self-references ignored), keeping the input order otherwise:
// the order to register or upload them in.
func ReferencesFirst(infos []PathInfo) []PathInfo {
	index := make(map[string]int, len(infos))
	for i, info := range infos {
		index[info.StorePath] = i
	}
	out := make([]PathInfo, 0, len(infos))
	state := make([]uint8, len(infos)) // 0 new, 1 visiting, 2 done
	var visit func(i int)
	visit = func(i int) {
		if state[i] != 0 {
			return
		}
		state[i] = 1
		for _, r := range infos[i].References {
			if j, ok := index[r]; ok && j != i {
				visit(j)
			}
		}
		state[i] = 2
		out = append(out, infos[i])
	}
	for i := range infos {
		visit(i)
	}
	return out
}
