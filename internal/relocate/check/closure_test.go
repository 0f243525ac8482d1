package check_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/relocate"
	"github.com/nix-buildpack/nix-buildpack/internal/relocate/check"
)

// The check's tests relocate a small store with the real relocate.Copy,
// then read the copy with check.Closure.

// storeName makes a store path base name with a hash of the right shape.
func storeName(t *testing.T, name string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return strings.Map(func(r rune) rune {
		if r == 'e' { // nixbase32 has no e, o, t, u
			return 'f'
		}
		return r
	}, hex.EncodeToString(b)) + "-" + name
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// relocateAndCheck copies the store paths names of orig for /app/.nixs
// and checks the copy, which it returns with the report.
func relocateAndCheck(t *testing.T, orig string, names ...string) (*check.Report, string) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), ".nixs")
	p := relocate.Prefix("/app/.nixs")
	if _, err := relocate.Copy(orig, dst, names, p); err != nil {
		t.Fatal(err)
	}
	rep, err := check.Closure(orig, dst, string(p))
	if err != nil {
		t.Fatal(err)
	}
	return rep, dst
}

func findingsText(fs []check.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

// wide is s in UTF-16 (width 2) or UTF-32 (width 4), for ASCII s.
func wide(s string, width int, bigEndian bool) string {
	var b []byte
	for _, c := range []byte(s) {
		unit := make([]byte, width)
		if bigEndian {
			unit[width-1] = c
		} else {
			unit[0] = c
		}
		b = append(b, unit...)
	}
	return string(b)
}
