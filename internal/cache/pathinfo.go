// Package cache is a client for Nix binary caches: the layout `nix copy` and
// substituters use (nix-cache-info, <hash>.narinfo, nar/<filehash>.nar.zst),
// kept in S3, on a local disk, or read over HTTP(S).
//
// Fetch restores store paths into the on-disk store directory of a builder
// and returns what to register in the Nix database; Push uploads store paths
// that a cache lacks. Both leave the store and the cache consistent when
// anything fails: a path is either complete and verified, or reported
// missing.
package cache

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/nix-community/go-nix/pkg/nixhash"
	"github.com/nix-community/go-nix/pkg/storepath"
)

// StoreDir is the logical store directory every cache here describes.
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

// checkStorePath returns an error unless p is a full, syntactically valid
// store path.
func checkStorePath(p string) error {
	if err := storepath.Validate(p); err != nil {
		return fmt.Errorf("%q is not a store path under %s: %w", p, StoreDir, err)
	}
	return nil
}

// hashPart returns the nixbase32 hash part of a store path, which names its
// narinfo in a cache.
func hashPart(storePath string) string {
	base := path.Base(storePath)
	if i := strings.IndexByte(base, '-'); i > 0 {
		return base[:i]
	}
	return base
}

// normalizeNarHash parses a SHA-256 hash in any encoding Nix writes (base16,
// nixbase32, base64, SRI, with or without "sha256:") and returns it as
// "sha256:<nixbase32>", the form narinfos and PathInfo use.
func normalizeNarHash(s string) (string, error) {
	algo := nixhash.SHA256
	h, err := nixhash.ParseAny(s, &algo)
	if err != nil {
		return "", fmt.Errorf("invalid NAR hash %q: %w", s, err)
	}
	return h.Format(nixhash.NixBase32, true), nil
}

// narHashDigest returns the raw SHA-256 digest of a PathInfo NarHash.
func narHashDigest(s string) ([]byte, error) {
	algo := nixhash.SHA256
	h, err := nixhash.ParseAny(s, &algo)
	if err != nil {
		return nil, fmt.Errorf("invalid NAR hash %q: %w", s, err)
	}
	return h.Digest(), nil
}

// validate checks that every path in info is a store path and that NarHash
// parses, so a bad PathInfo is refused before any work is done with it.
func (info *PathInfo) validate() error {
	if err := checkStorePath(info.StorePath); err != nil {
		return err
	}
	if _, err := narHashDigest(info.NarHash); err != nil {
		return fmt.Errorf("%s: %w", info.StorePath, err)
	}
	for _, r := range info.References {
		if err := checkStorePath(r); err != nil {
			return fmt.Errorf("%s: reference: %w", info.StorePath, err)
		}
	}
	if info.Deriver != "" {
		if err := checkStorePath(info.Deriver); err != nil {
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

// topoSort orders infos so that every path comes after the paths it refers
// to (self-references ignored), keeping the input order otherwise.
func topoSort(infos []PathInfo) []PathInfo {
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
