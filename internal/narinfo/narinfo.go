package narinfo

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/nix-community/go-nix/pkg/narinfo/signature"
	"github.com/nix-community/go-nix/pkg/nixhash"
	"github.com/nix-community/go-nix/pkg/storepath"
)

// NarInfo is one narinfo of a binary cache (<hash>.narinfo): the PathInfo
// it describes and where and how its NAR is stored.
type NarInfo struct {
	PathInfo
	URL         string   // NAR location relative to the cache root, e.g. nar/<filehash>.nar.zst
	Compression string   // zstd, xz, bzip2 or none
	FileHash    string   // "sha256:<nixbase32>" of the stored (compressed) NAR, or ""
	FileSize    uint64   // size of the stored NAR, or 0 when unknown
	Signatures  []string // "keyname:base64" ed25519 signatures of the fingerprint
}

// Parse parses a narinfo (lines of "Key: value", as Nix writes and
// reads them; unknown keys are ignored, as Nix does) and checks that it is
// complete enough to be fetched: paths valid, a SHA-256 NAR hash, a URL.
// go-nix's narinfo.Parse is not used: it refuses unknown keys and
// allocates a megabyte per call, which a restore of hundreds of paths feels.
func Parse(data []byte) (*NarInfo, error) {
	e := &NarInfo{}
	for line := range strings.SplitSeq(string(data), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("malformed narinfo: %q is not a \"Key: value\" line", line)
		}
		if err := e.set(k, strings.TrimPrefix(v, " ")); err != nil {
			return nil, err
		}
	}
	if err := e.complete(); err != nil {
		return nil, err
	}
	return e, nil
}

// set records the value v of the key k, checking store paths and
// signatures; NarHash and FileHash are kept as written until complete.
// Unknown keys are ignored, as Nix does.
func (e *NarInfo) set(k, v string) error {
	var err error
	switch k {
	case "StorePath":
		e.StorePath = v
	case "URL":
		e.URL = v
	case "Compression":
		e.Compression = v
	case "FileHash":
		e.FileHash = v
	case "FileSize":
		e.FileSize, err = strconv.ParseUint(v, 10, 64)
	case "NarHash":
		e.NarHash = v
	case "NarSize":
		e.NarSize, err = strconv.ParseUint(v, 10, 64)
	case "References":
		for _, r := range strings.Fields(v) {
			if _, perr := storepath.FromString(r); perr != nil {
				return fmt.Errorf("malformed narinfo: invalid Reference %q", r)
			}
			e.References = append(e.References, path.Join(StoreDir, r))
		}
	case "Deriver":
		if v != "unknown-deriver" && v != "" {
			if _, perr := storepath.FromString(v); perr != nil {
				return fmt.Errorf("malformed narinfo: invalid Deriver %q", v)
			}
			e.Deriver = path.Join(StoreDir, v)
		}
	case "Sig":
		if _, perr := signature.ParseSignature(v); perr != nil {
			return fmt.Errorf("malformed narinfo: invalid Sig %q: %w", v, perr)
		}
		e.Signatures = append(e.Signatures, v)
	case "CA":
		e.CA = v
	}
	if err != nil {
		return fmt.Errorf("malformed narinfo: %s must be a number, got %q", k, v)
	}
	return nil
}

// complete checks that the narinfo can be fetched (a valid store path, a
// SHA-256 NAR hash, a URL inside the cache), writes its hashes as Nix
// does, fills in Nix's default compression and sorts the references.
func (e *NarInfo) complete() error {
	if err := storepath.Validate(e.StorePath); err != nil {
		return fmt.Errorf("malformed narinfo: invalid StorePath %q: %w", e.StorePath, err)
	}
	algo := nixhash.SHA256
	h, err := nixhash.ParseAny(e.NarHash, &algo)
	if err != nil {
		return fmt.Errorf("malformed narinfo: NarHash must be a sha256 hash, got %q", e.NarHash)
	}
	e.NarHash = h.Format(nixhash.NixBase32, true)
	if e.FileHash != "" {
		h, err := nixhash.ParseAny(e.FileHash, &algo)
		if err != nil {
			return fmt.Errorf("malformed narinfo: FileHash must be a sha256 hash, got %q", e.FileHash)
		}
		e.FileHash = h.Format(nixhash.NixBase32, true)
	}
	if e.URL == "" || strings.HasPrefix(e.URL, "/") || strings.Contains(e.URL, "..") {
		return fmt.Errorf("malformed narinfo: URL %q must be a path relative to the cache", e.URL)
	}
	if e.Compression == "" {
		e.Compression = "bzip2" // what a missing Compression means to Nix
	}
	e.References = sortedRefs(e.References)
	return nil
}

// String renders the narinfo as Nix writes it, in its field order.
func (e *NarInfo) String() string {
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

// Fingerprint is the string Nix signs for a path:
// 1;<store path>;<sha256:nixbase32 NAR hash>;<NAR size>;<sorted full references, comma-separated>.
func (info *PathInfo) Fingerprint() string {
	return "1;" + info.StorePath + ";" + info.NarHash + ";" + strconv.FormatUint(info.NarSize, 10) + ";" +
		strings.Join(sortedRefs(info.References), ",")
}
