package check

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// A manifest lists files with their checksums: a wheel's RECORD
// (<pkg>.dist-info/RECORD, "path,sha256=<urlsafe base64>,size", relative
// to the directory holding the .dist-info) or a *SUMS file (sha256sum's
// "<hex>  name", relative to its own directory).
type manifestEntry struct {
	file string // path relative to the manifest's base directory
	algo string
	sum  []byte
}

func readManifest(path string) (base string, entries []manifestEntry, ok bool) {
	name := filepath.Base(path)
	switch {
	case name == "RECORD" && strings.HasSuffix(filepath.Dir(path), ".dist-info"):
		base = filepath.Dir(filepath.Dir(path))
	case strings.HasSuffix(name, "SUMS"):
		base = filepath.Dir(path)
	default:
		return "", nil, false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if e, ok := parseManifestLine(name, sc.Text()); ok {
			entries = append(entries, e)
		}
	}
	return base, entries, true
}

func parseManifestLine(manifest, line string) (manifestEntry, bool) {
	if manifest == "RECORD" {
		// The path may be quoted CSV; a comma inside it is rare enough
		// that such lines are skipped rather than parsed.
		parts := strings.Split(line, ",")
		if len(parts) != 3 {
			return manifestEntry{}, false
		}
		algo, val, ok := strings.Cut(parts[1], "=")
		sum, err := base64.RawURLEncoding.DecodeString(val)
		if !ok || err != nil || newHash(algo) == nil {
			return manifestEntry{}, false
		}
		return manifestEntry{file: parts[0], algo: algo, sum: sum}, true
	}
	sumHex, file, ok := strings.Cut(line, " ")
	sum, err := hex.DecodeString(sumHex)
	if !ok || err != nil || len(file) < 2 {
		return manifestEntry{}, false
	}
	algo := map[int]string{16: "md5", 20: "sha1", 32: "sha256", 64: "sha512"}[len(sum)]
	return manifestEntry{file: strings.TrimPrefix(file[1:], "*"), algo: algo, sum: sum}, algo != ""
}

func newHash(algo string) hash.Hash {
	switch algo {
	case "md5":
		return md5.New()
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	case "sha384":
		return sha512.New384()
	case "sha512":
		return sha512.New()
	}
	return nil
}

func (e manifestEntry) verifies(base string) bool {
	f, err := os.Open(filepath.Join(base, filepath.FromSlash(e.file)))
	if err != nil {
		return false
	}
	defer f.Close()
	h := newHash(e.algo)
	if _, err := io.Copy(h, f); err != nil {
		return false
	}
	return bytes.Equal(h.Sum(nil), e.sum)
}

// manifest reports entries of a RECORD or *SUMS file that verified in the
// original closure and no longer do: the rewrite changed those files.
func (fc *fileCheck) manifest(rel string) {
	base, entries, ok := readManifest(filepath.Join(fc.dir, rel))
	if !ok {
		return
	}
	origBase, _, _ := readManifest(filepath.Join(fc.orig, rel))
	var stale []string
	for _, e := range entries {
		if !e.verifies(base) && origBase != "" && e.verifies(origBase) {
			stale = append(stale, e.file)
		}
	}
	if n := len(stale); n > 0 {
		more := ""
		if len(stale) > 3 {
			more = " and others"
			stale = stale[:3]
		}
		fc.report(rel, "%d checksums no longer verify (%s%s): the rewrite changed those files", n, strings.Join(stale, ", "), more)
	}
}
