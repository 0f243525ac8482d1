package check_test

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func gzipped(t *testing.T, s string, level int) string {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, level)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func xzed(t *testing.T, s string) string {
	var b bytes.Buffer
	w, _ := xz.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func zstded(t *testing.T, s string) string {
	var b bytes.Buffer
	w, _ := zstd.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func bzipped(t *testing.T, s string) string {
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = strings.NewReader(s)
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("bzip2: %v", err)
	}
	return string(out)
}

// zipped makes a zip archive; a member name ending in "+stored" is stored
// uncompressed (under the name without the suffix).
func zipped(t *testing.T, members map[string]string) string {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, content := range members {
		method := zip.Deflate
		if n, ok := strings.CutSuffix(name, "+stored"); ok {
			name, method = n, zip.Store
		}
		f, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(content))
	}
	w.Close()
	return b.String()
}

func utf16le(s string) string { return wide(s, 2, false) }

func sha256hex(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func recordHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256=" + base64.RawURLEncoding.EncodeToString(h[:])
}

// TestCheckFindsWhatTheRewriteBroke relocates one store path per case and
// checks that the findings name exactly the broken file, and that the
// harmless variant of each case reports nothing.
func TestCheckFindsWhatTheRewriteBroke(t *testing.T) {
	sp := "/nix/store/" + strings.Repeat("a", 32) + "-dep/bin/tool"
	for _, tc := range []struct {
		name  string
		files func(t *testing.T) map[string]string
		want  string // substring of the one finding, "" for none
	}{
		{"plain store paths", func(t *testing.T) map[string]string {
			return map[string]string{"bin/run": "#!" + sp + "\n"}
		}, ""},
		{"gzip with a store path", func(t *testing.T) map[string]string {
			return map[string]string{"share/doc.gz": gzipped(t, "see "+sp, gzip.BestCompression)}
		}, "share/doc.gz: the store directory /nix/store (without a trailing slash, or not rewritten) inside gzip-compressed data"},
		{"gzip without store paths", func(t *testing.T) map[string]string {
			return map[string]string{"share/doc.gz": gzipped(t, "nothing", gzip.BestCompression)}
		}, ""},
		{"stored gzip block rewritten under its CRC", func(t *testing.T) map[string]string {
			return map[string]string{"share/raw.gz": gzipped(t, "see "+sp, gzip.NoCompression)}
		}, "share/raw.gz: gzip data no longer decompresses after the rewrite: gzip: invalid checksum"},
		{"bzip2 with a store path", func(t *testing.T) map[string]string {
			return map[string]string{"share/man.1.bz2": bzipped(t, "see "+sp)}
		}, "inside bzip2-compressed data"},
		{"xz with a store path", func(t *testing.T) map[string]string {
			return map[string]string{"lib/x.xz": xzed(t, "see "+sp)}
		}, "inside xz-compressed data"},
		// zstd keeps short literals raw, so the rewrite reaches them and
		// breaks the frame's checksum: broken either way.
		{"zstd with a store path", func(t *testing.T) map[string]string {
			return map[string]string{"lib/x.zst": zstded(t, strings.Repeat("see "+sp+"\n", 20))}
		}, "lib/x.zst: zstd data no longer decompresses after the rewrite"},
		{"zstd without store paths", func(t *testing.T) map[string]string {
			return map[string]string{"lib/x.zst": zstded(t, "nothing")}
		}, ""},
		{"deflated wheel member", func(t *testing.T) map[string]string {
			return map[string]string{"dist/pkg.whl": zipped(t, map[string]string{"pkg/conf.py": "TOOL = '" + sp + "'"})}
		}, "dist/pkg.whl: the store directory /nix/store (without a trailing slash, or not rewritten) inside zip member pkg/conf.py"},
		{"stored jar member", func(t *testing.T) map[string]string {
			return map[string]string{"lib/app.jar": zipped(t, map[string]string{"META-INF/paths+stored": sp})}
		}, "lib/app.jar: zip member META-INF/paths is corrupted by the rewrite: zip: checksum error"},
		{"zip without store paths", func(t *testing.T) map[string]string {
			return map[string]string{"lib/ok.zip": zipped(t, map[string]string{"a+stored": "x", "b": "y"})}
		}, ""},
		{"UTF-16LE", func(t *testing.T) map[string]string {
			return map[string]string{"share/w.dat": "\xff\xfe" + utf16le(sp)}
		}, "share/w.dat: a UTF-16LE store path at byte 2"},
		{"UTF-16BE", func(t *testing.T) map[string]string {
			return map[string]string{"share/w.dat": wide(sp, 2, true)}
		}, "a UTF-16BE store path"},
		{"JSON-escaped", func(t *testing.T) map[string]string {
			return map[string]string{"etc/c.json": `{"tool": "` + strings.ReplaceAll(sp, "/", `\/`) + `"}`}
		}, `etc/c.json: a JSON-escaped store path (\/nix\/store) at byte 10`},
		{"URL-encoded", func(t *testing.T) map[string]string {
			return map[string]string{"etc/u": "file=" + strings.ReplaceAll(sp, "/", "%2F")}
		}, "a URL-encoded store path (%2Fnix%2Fstore)"},
		{"store directory without its slash", func(t *testing.T) map[string]string {
			return map[string]string{"etc/nix.conf": "store = /nix/store\n"}
		}, "etc/nix.conf: the store directory /nix/store (without a trailing slash, or not rewritten) at byte 8"},
		{"SHA256SUMS of a rewritten file", func(t *testing.T) map[string]string {
			return map[string]string{"share/run": "#!" + sp, "share/SHA256SUMS": sha256hex("#!"+sp) + "  run\n"}
		}, "share/SHA256SUMS: 1 checksums no longer verify (run)"},
		{"SHA256SUMS already stale", func(t *testing.T) map[string]string {
			return map[string]string{"share/run": "#!" + sp, "share/SHA256SUMS": sha256hex("other") + "  run\n"}
		}, ""},
		{"wheel RECORD", func(t *testing.T) map[string]string {
			return map[string]string{
				"lib/site-packages/pkg/__init__.py":          "X = '" + sp + "'\n",
				"lib/site-packages/pkg/plain.py":             "Y = 1\n",
				"lib/site-packages/pkg-1.0.dist-info/RECORD": "pkg/__init__.py," + recordHash("X = '"+sp+"'\n") + ",40\npkg/plain.py," + recordHash("Y = 1\n") + ",6\npkg-1.0.dist-info/RECORD,,\n",
			}
		}, "pkg-1.0.dist-info/RECORD: 1 checksums no longer verify (pkg/__init__.py)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := t.TempDir()
			name := storeName(t, "case")
			for rel, content := range tc.files(t) {
				write(t, filepath.Join(orig, name, rel), content, 0o444)
			}
			rep, _ := relocateAndCheck(t, orig, name)
			got := findingsText(rep.Broken)
			switch {
			case tc.want == "" && got != "":
				t.Errorf("unexpected findings:\n%s", got)
			case tc.want != "" && (len(rep.Broken) != 1 || !strings.Contains(got, tc.want)):
				t.Errorf("findings:\n%swant one containing %q", got, tc.want)
			case tc.want != "" && !strings.HasPrefix(got, "/nix/store/"+name+"/"):
				t.Errorf("finding does not name the store path and file: %s", got)
			}
		})
	}
}

func TestCheckReportsSetuid(t *testing.T) {
	orig := t.TempDir()
	name := storeName(t, "suid")
	write(t, filepath.Join(orig, name, "bin", "su"), "x", 0o755)
	if err := os.Chmod(filepath.Join(orig, name, "bin", "su"), os.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	rep, dst := relocateAndCheck(t, orig, name)
	if fi, _ := os.Stat(filepath.Join(dst, name, "bin", "su")); fi.Mode()&os.ModeSetuid != 0 {
		t.Error("the copy kept the setuid bit")
	}
	want := fmt.Sprintf("/nix/store/%s/bin/su: setuid or setgid file", name)
	if got := findingsText(rep.Broken); !strings.HasPrefix(got, want) {
		t.Errorf("findings:\n%swant %q", got, want)
	}
}
