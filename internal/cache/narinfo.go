package cache

import (
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/nix-community/go-nix/pkg/narinfo/signature"
	"github.com/nix-community/go-nix/pkg/nixhash"
	"github.com/nix-community/go-nix/pkg/storepath"
)

// Entry is one narinfo of a cache: the PathInfo it describes and where and
// how its NAR is stored.
type Entry struct {
	PathInfo
	URL         string   // NAR location relative to the cache root, e.g. nar/<filehash>.nar.zst
	Compression string   // zstd, xz, bzip2 or none
	FileHash    string   // "sha256:<nixbase32>" of the stored (compressed) NAR, or ""
	FileSize    uint64   // size of the stored NAR, or 0 when unknown
	Signatures  []string // "keyname:base64" ed25519 signatures of the fingerprint
}

// parseNarinfo parses a narinfo (lines of "Key: value", as Nix writes and
// reads them; unknown keys are ignored, as Nix does) and checks that it is
// complete enough to be fetched: paths valid, a SHA-256 NAR hash, a URL.
// go-nix's narinfo.Parse is not used: it refuses unknown keys and
// allocates a megabyte per call, which a restore of hundreds of paths feels.
func parseNarinfo(data []byte) (*Entry, error) {
	e := &Entry{}
	var narHash, fileHash string
	for line := range strings.SplitSeq(string(data), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("malformed narinfo: %q is not a \"Key: value\" line", line)
		}
		v = strings.TrimPrefix(v, " ")
		var err error
		switch k {
		case "StorePath":
			e.StorePath = v
		case "URL":
			e.URL = v
		case "Compression":
			e.Compression = v
		case "FileHash":
			fileHash = v
		case "FileSize":
			e.FileSize, err = strconv.ParseUint(v, 10, 64)
		case "NarHash":
			narHash = v
		case "NarSize":
			e.NarSize, err = strconv.ParseUint(v, 10, 64)
		case "References":
			for _, r := range strings.Fields(v) {
				if _, perr := storepath.FromString(r); perr != nil {
					return nil, fmt.Errorf("malformed narinfo: invalid Reference %q", r)
				}
				e.References = append(e.References, path.Join(StoreDir, r))
			}
		case "Deriver":
			if v != "unknown-deriver" && v != "" {
				if _, perr := storepath.FromString(v); perr != nil {
					return nil, fmt.Errorf("malformed narinfo: invalid Deriver %q", v)
				}
				e.Deriver = path.Join(StoreDir, v)
			}
		case "Sig":
			if _, perr := signature.ParseSignature(v); perr != nil {
				return nil, fmt.Errorf("malformed narinfo: invalid Sig %q: %v", v, perr)
			}
			e.Signatures = append(e.Signatures, v)
		case "CA":
			e.CA = v
		}
		if err != nil {
			return nil, fmt.Errorf("malformed narinfo: %s must be a number, got %q", k, v)
		}
	}
	if err := storepath.Validate(e.StorePath); err != nil {
		return nil, fmt.Errorf("malformed narinfo: invalid StorePath %q: %v", e.StorePath, err)
	}
	algo := nixhash.SHA256
	h, err := nixhash.ParseAny(narHash, &algo)
	if err != nil {
		return nil, fmt.Errorf("malformed narinfo: NarHash must be a sha256 hash, got %q", narHash)
	}
	e.NarHash = h.Format(nixhash.NixBase32, true)
	if fileHash != "" {
		h, err := nixhash.ParseAny(fileHash, &algo)
		if err != nil {
			return nil, fmt.Errorf("malformed narinfo: FileHash must be a sha256 hash, got %q", fileHash)
		}
		e.FileHash = h.Format(nixhash.NixBase32, true)
	}
	if e.URL == "" || strings.HasPrefix(e.URL, "/") || strings.Contains(e.URL, "..") {
		return nil, fmt.Errorf("malformed narinfo: URL %q must be a path relative to the cache", e.URL)
	}
	if e.Compression == "" {
		e.Compression = "bzip2" // what a missing Compression means to Nix
	}
	e.References = sortedRefs(e.References)
	return e, nil
}

// format renders the entry as a narinfo, in the field order Nix writes.
func (e *Entry) format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "StorePath: %s\nURL: %s\nCompression: %s\n", e.StorePath, e.URL, e.Compression)
	if e.FileHash != "" {
		fmt.Fprintf(&b, "FileHash: %s\nFileSize: %d\n", e.FileHash, e.FileSize)
	}
	fmt.Fprintf(&b, "NarHash: %s\nNarSize: %d\nReferences:", e.NarHash, e.NarSize)
	if len(e.References) == 0 {
		b.WriteByte(' ')
	}
	for _, r := range sortedRefs(e.References) {
		b.WriteString(" " + path.Base(r))
	}
	b.WriteByte('\n')
	if e.Deriver != "" {
		fmt.Fprintf(&b, "Deriver: %s\n", path.Base(e.Deriver))
	}
	for _, s := range e.Signatures {
		fmt.Fprintf(&b, "Sig: %s\n", s)
	}
	if e.CA != "" {
		fmt.Fprintf(&b, "CA: %s\n", e.CA)
	}
	return b.String()
}

// fingerprint is the string Nix signs for a path:
// 1;<store path>;<sha256:nixbase32 NAR hash>;<NAR size>;<sorted full references, comma-separated>.
func (info *PathInfo) fingerprint() string {
	return "1;" + info.StorePath + ";" + info.NarHash + ";" + strconv.FormatUint(info.NarSize, 10) + ";" +
		strings.Join(sortedRefs(info.References), ",")
}

// SecretKey is an ed25519 signing key in Nix's "name:base64" format, as
// `nix-store --generate-binary-cache-key` writes it. Its String never shows
// the key material.
type SecretKey struct{ key signature.SecretKey }

// ParseSecretKey parses a "name:base64" secret key. The error never contains
// the key.
func ParseSecretKey(s string) (*SecretKey, error) {
	k, err := signature.LoadSecretKey(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("secret key is not in Nix's name:base64 ed25519 format (make one with nix-store --generate-binary-cache-key)")
	}
	return &SecretKey{key: k}, nil
}

// PublicKey returns the "name:base64" public key that verifies this key's
// signatures, for trusted-public-keys.
func (k *SecretKey) PublicKey() string { return k.key.ToPublicKey().String() }

// String names the key without showing it.
func (k *SecretKey) String() string { return "secret key for " + k.PublicKey() }

// GoString keeps %#v from printing the key material.
func (k *SecretKey) GoString() string { return k.String() }

func (k *SecretKey) sign(info *PathInfo) (string, error) {
	sig, err := k.key.Sign(nil, info.fingerprint())
	if err != nil {
		return "", fmt.Errorf("unable to sign %s\n%w", info.StorePath, err)
	}
	return sig.String(), nil
}

// parsePublicKeys parses trusted public keys ("name:base64", Nix's
// trusted-public-keys format); several may share one string separated by
// spaces.
func parsePublicKeys(keys []string) ([]signature.PublicKey, error) {
	var out []signature.PublicKey
	for _, s := range keys {
		for _, f := range strings.Fields(s) {
			k, err := signature.ParsePublicKey(f)
			if err != nil {
				return nil, fmt.Errorf("trusted public key %q is not in Nix's name:base64 ed25519 format\n%w", f, err)
			}
			out = append(out, k)
		}
	}
	return out, nil
}

// verifySignatures reports whether any signature on e was made by one of
// keys over e's fingerprint.
func verifySignatures(e *Entry, keys []signature.PublicKey) bool {
	return signedBy(e.fingerprint(), e.Signatures, keys)
}

// signedBy reports whether one of sigs ("name:base64") is a signature by
// one of keys over fp: narinfos and source pointers are checked alike.
func signedBy(fp string, sigs []string, keys []signature.PublicKey) bool {
	for _, s := range sigs {
		sig, err := signature.ParseSignature(s)
		if err != nil {
			continue
		}
		for _, k := range keys {
			if k.Verify(fp, sig) {
				return true
			}
		}
	}
	return false
}

// readAllLimited reads at most limit bytes, refusing larger bodies (a narinfo
// is small; anything huge is not one).
func readAllLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, permanentf("larger than %d bytes", limit)
	}
	return data, nil
}
