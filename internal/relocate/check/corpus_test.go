package check_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz/lzma"

	"github.com/nix-buildpack/nix-buildpack/internal/relocate/check"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// Fixture makers: one small file per format, made here with Go's
// libraries (or Debian's python3 for SQLite), never committed.

func compressWith(t *testing.T, s string, newWriter func(*bytes.Buffer) (interface {
	Write([]byte) (int, error)
	Close() error
}, error)) string {
	t.Helper()
	var b bytes.Buffer
	w, err := newWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

type writeCloser = interface {
	Write([]byte) (int, error)
	Close() error
}

func lz4ed(t *testing.T, s string) string {
	return compressWith(t, s, func(b *bytes.Buffer) (writeCloser, error) {
		w := lz4.NewWriter(b)
		return w, w.Apply(lz4.ChecksumOption(true), lz4.BlockChecksumOption(true))
	})
}

func brotlied(t *testing.T, s string) string {
	return compressWith(t, s, func(b *bytes.Buffer) (writeCloser, error) { return brotli.NewWriterLevel(b, 11), nil })
}

func lzmaed(t *testing.T, s string) string {
	return compressWith(t, s, func(b *bytes.Buffer) (writeCloser, error) { return lzma.NewWriter(b) })
}

func zlibbed(t *testing.T, s string) string {
	return compressWith(t, s, func(b *bytes.Buffer) (writeCloser, error) { return zlib.NewWriterLevel(b, zlib.BestCompression) })
}

func deflated(t *testing.T, s string) string {
	return compressWith(t, s, func(b *bytes.Buffer) (writeCloser, error) { return flate.NewWriter(b, flate.BestCompression) })
}

// tarred makes a plain tar archive: a member whose name ends in "@link"
// is a symlink to its content, any other a regular file.
func tarred(t *testing.T, members [][2]string) string {
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, m := range members {
		h := &tar.Header{Name: m[0], Mode: 0o644, Size: int64(len(m[1])), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if name, ok := strings.CutSuffix(m[0], "@link"); ok {
			h = &tar.Header{Name: name, Linkname: m[1], Mode: 0o777, Typeflag: tar.TypeSymlink, Format: tar.FormatUSTAR}
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			w.Write([]byte(m[1]))
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// pngWithText is a 1x1 PNG with a tEXt chunk right after IHDR (at byte
// 33), as image tools record the software or source that made it.
func pngWithText(t *testing.T, key, text string) string {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	data := []byte(key + "\x00" + text)
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	chunk = append(chunk, "tEXt"...)
	chunk = append(chunk, data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	img := b.Bytes()
	return string(img[:33]) + string(chunk) + string(img[33:])
}

// sqliteWithIndex is a real SQLite database (made by Python's sqlite3
// module) with an index over a text column holding store paths.
func sqliteWithIndex(t *testing.T, paths ...string) string {
	if _, err := exec.LookPath("python3"); err != nil {
		testenv.Missing(t, "python3 is not installed")
	}
	db := filepath.Join(t.TempDir(), "db.sqlite")
	script := `import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("create table files (path text)")
c.execute("create index files_path on files (path)")
c.executemany("insert into files values (?)", [(p,) for p in sys.argv[2:]])
c.commit()
`
	if out, err := exec.Command("python3", append([]string{"-c", script, db}, paths...)...).CombinedOutput(); err != nil {
		testenv.Missing(t, "python3 cannot make a SQLite database: "+string(out))
	}
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// zipWith makes a zip archive whose one member is stored with the given
// method and raw bytes (CreateRaw), for methods Go cannot write.
func zipWith(t *testing.T, name string, method uint16, raw string) string {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, err := w.CreateRaw(&zip.FileHeader{Name: name, Method: method, CompressedSize64: uint64(len(raw)), UncompressedSize64: uint64(len(raw))})
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte(raw))
	w.Close()
	return b.String()
}

// TestCheckCorpus is issue 21, rows 10-12: one file per format the
// rewrite can break or cannot reach. Each case relocates one store path
// and wants exactly one finding naming the file: broken (the rewrite
// broke it, or left a store path where it cannot reach), or not inspected
// (the check cannot look there, and says so).
func TestCheckCorpus(t *testing.T) {
	sp := "/nix/store/" + strings.Repeat("a", 32) + "-dep/bin/tool"
	lines := strings.Repeat("see "+sp+"\n", 20)
	for _, tc := range []struct {
		name          string
		files         func(t *testing.T) map[string]string
		broken, skipd string // substrings of the one finding; both "" for none
	}{
		// Row 10: checksummed or ordered data the rewrite changes.
		{"lz4 frame", func(t *testing.T) map[string]string {
			return map[string]string{"share/paths.lz4": lz4ed(t, lines)}
		}, "share/paths.lz4: lz4 data no longer decompresses after the rewrite", ""},
		{"lz4 frame without store paths", func(t *testing.T) map[string]string {
			return map[string]string{"share/x.lz4": lz4ed(t, strings.Repeat("nothing\n", 20))}
		}, "", ""},
		{"plain tar, a symlink member into the store", func(t *testing.T) map[string]string {
			return map[string]string{"share/t.tar": tarred(t, [][2]string{{"a", "x"}, {"bin/tool@link", sp}, {"c", "y"}})}
		}, "share/t.tar: tar archive no longer reads after the rewrite: tar header after member a: archive/tar: invalid tar header", ""},
		{"plain tar, store paths in a member's data (rewritten, no checksum)", func(t *testing.T) map[string]string {
			return map[string]string{"share/t.tar": tarred(t, [][2]string{{"etc/conf", "tool = " + sp + "\n"}})}
		}, "", ""},
		{"PNG text chunk", func(t *testing.T) map[string]string {
			return map[string]string{"share/icon.png": pngWithText(t, "Source", sp)}
		}, "share/icon.png: PNG chunk tEXt at byte 33: its CRC no longer matches after the rewrite", ""},
		{"PNG without store paths", func(t *testing.T) map[string]string {
			return map[string]string{"share/icon.png": pngWithText(t, "Software", "Go")}
		}, "", ""},
		{"SQLite with an index over store paths", func(t *testing.T) map[string]string {
			return map[string]string{"var/db.sqlite": sqliteWithIndex(t, sp, "/usr/bin/env", sp+"2")}
		}, "var/db.sqlite: SQLite database with 4 store paths rewritten in place: an index over them is now out of order", ""},
		{"SQLite without store paths", func(t *testing.T) map[string]string {
			return map[string]string{"var/db.sqlite": sqliteWithIndex(t, "/usr/bin/env")}
		}, "", ""},

		// Row 11: compressed data and nested archives.
		{"brotli", func(t *testing.T) map[string]string {
			return map[string]string{"www/app.js.br": brotlied(t, lines)}
		}, "www/app.js.br: the store directory /nix/store (without a trailing slash, or not rewritten) inside brotli-compressed data", ""},
		{"lzma", func(t *testing.T) map[string]string {
			return map[string]string{"share/x.lzma": lzmaed(t, lines)}
		}, "inside lzma-compressed data", ""},
		{"lzma without its extension", func(t *testing.T) map[string]string {
			return map[string]string{"share/x.dat": lzmaed(t, lines)}
		}, "share/x.dat: the store directory /nix/store (without a trailing slash, or not rewritten) inside lzma-compressed data", ""},
		{"zlib", func(t *testing.T) map[string]string {
			return map[string]string{"share/x.bin": zlibbed(t, lines)}
		}, "share/x.bin: the store directory /nix/store (without a trailing slash, or not rewritten) inside zlib-compressed data", ""},
		{"raw deflate", func(t *testing.T) map[string]string {
			return map[string]string{"www/app.js.deflate": deflated(t, lines)}
		}, "inside deflate-compressed data", ""},
		{"gz in tar", func(t *testing.T) map[string]string {
			return map[string]string{"share/t.tar": tarred(t, [][2]string{{"a", "x"}, {"doc/man.1.gz", gzipped(t, lines, gzip.BestCompression)}})}
		}, "share/t.tar: the store directory /nix/store (without a trailing slash, or not rewritten) inside gzip-compressed data in tar member doc/man.1.gz", ""},
		{"tar.gz", func(t *testing.T) map[string]string {
			return map[string]string{"share/src.tar.gz": gzipped(t, tarred(t, [][2]string{{"conf", "tool = " + sp}}), gzip.BestCompression)}
		}, "share/src.tar.gz: the store directory /nix/store (without a trailing slash, or not rewritten) inside tar member conf in gzip-compressed data", ""},
		{"jar in war", func(t *testing.T) map[string]string {
			jar := zipped(t, map[string]string{"app.properties": "tool=" + sp})
			return map[string]string{"webapps/app.war": zipped(t, map[string]string{"WEB-INF/lib/app.jar": jar})}
		}, "webapps/app.war: the store directory /nix/store (without a trailing slash, or not rewritten) inside zip member app.properties in zip member WEB-INF/lib/app.jar", ""},
		{"jar in war without store paths", func(t *testing.T) map[string]string {
			jar := zipped(t, map[string]string{"app.properties": "x=1"})
			return map[string]string{"webapps/app.war": zipped(t, map[string]string{"WEB-INF/lib/app.jar": jar})}
		}, "", ""},
		{"gzip nested five deep", func(t *testing.T) map[string]string {
			s := lines
			for range 5 {
				s = gzipped(t, s, gzip.BestCompression)
			}
			return map[string]string{"share/deep.gz": s}
		}, "", "share/deep.gz: gzip data in gzip-compressed data in gzip-compressed data in gzip-compressed data in gzip-compressed data: nested 5 deep: not opened"},
		{"zip member in a method the check cannot read", func(t *testing.T) map[string]string {
			return map[string]string{"lib/x.zip": zipWith(t, "data", 99, "AES-encrypted bytes")}
		}, "", "lib/x.zip: zip member data: compression method 99: not inspected"},
		// The signature alone: the check recognizes 7z by it and does
		// not read further, so the rest of a real archive is not needed.
		{"7z archive", func(t *testing.T) map[string]string {
			return map[string]string{"share/a.7z": "7z\xbc\xaf\x27\x1c\x00\x04" + strings.Repeat("\x00", 24)}
		}, "", "share/a.7z: 7z data: not inspected: the check cannot open this format"},

		// Row 12: the store directory spelled another way.
		{"/nix//store in a file", func(t *testing.T) map[string]string {
			return map[string]string{"etc/conf": "tool = /nix//store/" + strings.Repeat("a", 32) + "-dep\n"}
		}, "etc/conf: the store directory spelled /nix//store at byte 7", ""},
		{"/nix/./store in a file", func(t *testing.T) map[string]string {
			return map[string]string{"etc/conf": "tool = /nix/./store/" + strings.Repeat("a", 32) + "-dep\n"}
		}, "the store directory spelled /nix/./store", ""},
		{"URL-encoded, mixed case", func(t *testing.T) map[string]string {
			return map[string]string{"etc/u": "file=%2Fnix%2fstore%2F" + strings.Repeat("a", 32) + "-dep"}
		}, "a URL-encoded store path (%2Fnix%2fstore)", ""},
		{"UTF-32LE", func(t *testing.T) map[string]string {
			return map[string]string{"share/w.dat": "\xff\xfe\x00\x00" + wide(sp, 4, false)}
		}, "share/w.dat: a UTF-32LE store path at byte 4", ""},
		{"UTF-32BE", func(t *testing.T) map[string]string {
			return map[string]string{"share/w.dat": wide(sp, 4, true)}
		}, "a UTF-32BE store path at byte 0", ""},
	} {
		t.Run(tc.name, func(t *testing.T) { checkOne(t, tc.files(t), tc.broken, tc.skipd) })
	}
	// A base64 source map, at each offset modulo 3 of the store path in
	// the encoded JSON.
	for pad := range 3 {
		t.Run("base64 source map, offset "+string(rune('0'+pad)), func(t *testing.T) {
			sourceMap := `{"version":3,"sources":["` + strings.Repeat("x", pad) + sp + `"]}`
			js := "f();\n//# sourceMappingURL=data:application/json;base64," + base64.StdEncoding.EncodeToString([]byte(sourceMap)) + "\n"
			checkOne(t, map[string]string{"www/app.js": js}, "www/app.js: a base64-encoded store path", "")
		})
	}
}

// checkOne relocates one store path holding files and wants exactly the
// findings given (broken, not inspected: substrings, "" for none), each
// naming the store path and file.
func checkOne(t *testing.T, files map[string]string, broken, skipped string) {
	t.Helper()
	orig := t.TempDir()
	name := storeName(t, "case")
	for rel, content := range files {
		write(t, filepath.Join(orig, name, rel), content, 0o444)
	}
	rep, _ := relocateAndCheck(t, orig, name)
	for _, c := range []struct {
		what, want string
		got        []check.Finding
	}{{"broken", broken, rep.Broken}, {"not inspected", skipped, rep.NotInspected}} {
		text := findingsText(c.got)
		switch {
		case c.want == "" && text != "":
			t.Errorf("unexpected %s findings:\n%s", c.what, text)
		case c.want != "" && (len(c.got) != 1 || !strings.Contains(text, c.want)):
			t.Errorf("%s findings:\n%swant one containing %q", c.what, text, c.want)
		case c.want != "" && !strings.HasPrefix(text, "/nix/store/"+name+"/"):
			t.Errorf("%s finding does not name the store path and file: %s", c.what, text)
		}
	}
}
