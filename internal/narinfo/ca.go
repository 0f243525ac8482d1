package narinfo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"path"
	"strings"

	"github.com/nix-community/go-nix/pkg/nixbase32"
	"github.com/nix-community/go-nix/pkg/nixhash"
	"github.com/nix-community/go-nix/pkg/storepath"
)

// SelfValidating reports whether the record proves itself without a
// signature, as Nix's ValidPathInfo::isContentAddressed does: its CA is
// "fixed:r:sha256:<hash>" (a recursive fixed-output hash, such as a source
// tarball's or a builtins.path's), that hash is its NarHash (which the NAR
// is checked against when it is unpacked, as Nix's addToStore checks the CA
// hash), and its store path is the one Nix makes from that hash, its name
// and its references. Flat and text content addresses hash the file's
// contents rather than its NAR, which only unpacking could check: they are
// not taken as proof here, so such a path needs a trusted signature.
func (info *PathInfo) SelfValidating() bool {
	digest, ok := strings.CutPrefix(info.CA, "fixed:r:sha256:")
	if !ok {
		return false
	}
	algo := nixhash.SHA256
	h, err := nixhash.ParseAny(digest, &algo)
	if err != nil {
		return false
	}
	narHash, err := HashDigest(info.NarHash)
	if err != nil || !bytes.Equal(narHash, h.Digest()) {
		return false
	}
	sp, err := storepath.FromAbsolutePath(info.StorePath)
	if err != nil {
		return false
	}
	return SourcePath(h.Digest(), sp.Name, info.References, info.StorePath) == info.StorePath
}

// SourcePath is the store path Nix gives a tree added to the store by its
// NAR's SHA-256 (FileIngestionMethod::Recursive): makeFixedOutputPath, the
// "source" type with its references. self, when among refs, is a reference
// to the path itself, spelled ":self" as Nix does.
func SourcePath(narSHA256 []byte, name string, refs []string, self string) string {
	typ := "source"
	hasSelf := false
	for _, r := range sortedRefs(refs) {
		if r == self {
			hasSelf = true
			continue
		}
		typ += ":" + r
	}
	if hasSelf {
		typ += ":self"
	}
	return makeStorePath(typ, narSHA256, name)
}

// makeStorePath is Nix's Store::makeStorePath for a SHA-256 hash.
func makeStorePath(typ string, digest []byte, name string) string {
	s := typ + ":sha256:" + hex.EncodeToString(digest) + ":" + StoreDir + ":" + name
	sum := sha256.Sum256([]byte(s))
	return path.Join(StoreDir, nixbase32.EncodeToString(nixhash.CompressHash(sum[:], 20))+"-"+name)
}
