package nar

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gonix "github.com/nix-community/go-nix/pkg/nar"
)

// narEvents records what a Parser reads, one line per entry, in the form
// goNixEvents gives go-nix's nar.Reader's view.
type narEvents struct {
	lines []string
	dirs  []string // paths of the open directories
	name  string   // the file being read
	h     []byte
	n     int64
	size  int64
	exec  bool
}

func (e *narEvents) path(name string) string {
	if len(e.dirs) == 0 {
		return "/"
	}
	return path.Join(e.dirs[len(e.dirs)-1], name)
}

func (e *narEvents) Directory(name string) error {
	p := e.path(name)
	e.lines = append(e.lines, p+" directory")
	e.dirs = append(e.dirs, p)
	return nil
}

func (e *narEvents) EndDirectory() error {
	e.dirs = e.dirs[:len(e.dirs)-1]
	return nil
}

func (e *narEvents) Symlink(name, target string) error {
	e.lines = append(e.lines, e.path(name)+" symlink "+target)
	return nil
}

func (e *narEvents) File(name string, executable bool, size int64) error {
	e.name, e.exec, e.size, e.n, e.h = e.path(name), executable, size, 0, nil
	return nil
}

func (e *narEvents) Contents(p []byte) error {
	e.h = append(e.h, p...)
	e.n += int64(len(p))
	return nil
}

func (e *narEvents) EndFile() error {
	if e.n != e.size {
		return fmt.Errorf("%s: %d of %d bytes", e.name, e.n, e.size)
	}
	sum := sha256.Sum256(e.h)
	e.lines = append(e.lines, fmt.Sprintf("%s regular exec=%v %d %s", e.name, e.exec, e.size, hex.EncodeToString(sum[:])))
	return nil
}

// parseInPieces feeds data to a Parser in pieces of size bytes.
func parseInPieces(data []byte, size int) ([]string, error) {
	ev := &narEvents{}
	p := NewParser(ev)
	for len(data) > 0 {
		k := min(size, len(data))
		if _, err := p.Write(data[:k]); err != nil {
			return nil, err
		}
		data = data[k:]
	}
	return ev.lines, p.Finish()
}

// goNixEvents is the oracle: go-nix's nar.Reader, plus the checks it
// leaves to the file system (an entry named twice, "", "." or "..") and
// Nix's rule that a node has a type (go-nix yields no entry for "( type )").
func goNixEvents(data []byte) ([]string, error) {
	nr, err := gonix.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer nr.Close()
	var lines []string
	seen := map[string]bool{}
	for {
		hdr, err := nr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		base := path.Base(hdr.Path)
		if hdr.Path != "/" && (seen[hdr.Path] || base == "." || base == ".." || strings.HasSuffix(hdr.Path, "/")) {
			return nil, fmt.Errorf("bad entry %q", hdr.Path)
		}
		seen[hdr.Path] = true
		switch hdr.Type {
		case gonix.TypeDirectory:
			lines = append(lines, hdr.Path+" directory")
		case gonix.TypeSymlink:
			lines = append(lines, hdr.Path+" symlink "+hdr.LinkTarget)
		case gonix.TypeRegular:
			b, err := io.ReadAll(nr)
			if err != nil {
				return nil, err
			}
			if int64(len(b)) != hdr.Size {
				return nil, fmt.Errorf("%s: %d of %d bytes", hdr.Path, len(b), hdr.Size)
			}
			sum := sha256.Sum256(b)
			lines = append(lines, fmt.Sprintf("%s regular exec=%v %d %s", hdr.Path, hdr.Executable, hdr.Size, hex.EncodeToString(sum[:])))
		}
	}
	if len(lines) == 0 {
		return nil, errors.New("no root node")
	}
	return lines, nil
}

// testNARs are NARs of real trees (gonix.DumpPath) and of token lists.
func testNARs(t *testing.T) map[string][]byte {
	dir := t.TempDir()
	write := func(rel, data string, mode os.FileMode) {
		p := filepath.Join(dir, "tree", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("bin/hello", "#!/bin/sh\necho hello\n", 0o755)
	write("lib/a-b/x", strings.Repeat("0123456789abcdef", 1000)+"tail", 0o644)
	write("lib/a/y", "", 0o644)
	write("lib/a.txt", "1234567", 0o644)
	write("share/doc/README", "eight b.", 0o644)
	if err := os.Symlink("../lib/a.txt", filepath.Join(dir, "tree", "bin", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tree", "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	var tree bytes.Buffer
	if err := gonix.DumpPath(&tree, filepath.Join(dir, "tree")); err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"tree":        tree.Bytes(),
		"single file": narOf(t, "(", "type", "regular", "executable", "", "contents", "x", ")"),
		"symlink":     narOf(t, "(", "type", "symlink", "target", "/nix/store/x", ")"),
		"nested": narOf(t, dirOf(
			append(append([]string{"entry", "(", "name", "a", "node"}, dirOf(file("b", "x", false))...), ")"),
			file("c", "", true))...),
	}
}

// TestParserPieces feeds NARs to a Parser in pieces of every size
// from 1 byte: it must read what go-nix reads, whatever the pieces.
func TestParserPieces(t *testing.T) {
	for name, data := range testNARs(t) {
		want, err := goNixEvents(data)
		if err != nil {
			t.Fatalf("%s: go-nix: %v", name, err)
		}
		for _, size := range []int{1, 2, 3, 5, 7, 8, 9, 13, 64, 4096, len(data)} {
			got, err := parseInPieces(data, size)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("%s in %d-byte pieces: %v\n%s\nwant\n%s", name, size, err, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
		// A byte after the root node is refused, as Nix refuses it
		// (issue 21, row 9), whatever the pieces.
		for _, size := range []int{1, 5, len(data) + 1} {
			_, err := parseInPieces(append(slices.Clone(data), 0), size)
			if err == nil || !strings.Contains(err.Error(), "after the end of its root node") {
				t.Fatalf("%s with a trailing byte in %d-byte pieces: %v, want an error", name, size, err)
			}
		}
	}
}

// nixEvents is a second, plain reading of a NAR by recursive descent,
// following Nix's parse.cc (parseDump): the oracle for damaged NARs, where
// go-nix is laxer than Nix (it skips unknown tokens in a directory, takes a
// NAR cut between two strings for a whole one, and checks padding only
// after file contents).
func nixEvents(data []byte) (lines []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			lines, err = nil, fmt.Errorf("%v", r)
		}
	}()
	r := bytes.NewReader(data)
	str := func(max uint64) string {
		var n [8]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			panic(err)
		}
		size := binary.LittleEndian.Uint64(n[:])
		if size > max {
			panic("string too long")
		}
		if size > uint64(r.Len()) {
			panic(io.ErrUnexpectedEOF)
		}
		b := make([]byte, (size+7)/8*8)
		if _, err := io.ReadFull(r, b); err != nil {
			panic(err)
		}
		for _, c := range b[size:] {
			if c != 0 {
				panic("non-zero padding")
			}
		}
		return string(b[:size])
	}
	expect := func(want string) {
		if got := str(keywordMax); got != want {
			panic(fmt.Sprintf("%q where %q belongs", got, want))
		}
	}
	var node func(p string)
	node = func(p string) {
		expect("(")
		expect("type")
		switch t := str(keywordMax); t {
		case "regular":
			exec := false
			tok := str(keywordMax)
			if tok == "executable" {
				exec = true
				expect("")
				tok = str(keywordMax)
			}
			if tok != "contents" {
				panic("no contents")
			}
			b := str(1 << 30)
			sum := sha256.Sum256([]byte(b))
			lines = append(lines, fmt.Sprintf("%s regular exec=%v %d %s", p, exec, len(b), hex.EncodeToString(sum[:])))
		case "symlink":
			expect("target")
			lines = append(lines, p+" symlink "+str(targetMax))
		case "directory":
			lines = append(lines, p+" directory")
			prev := ""
			for {
				tok := str(keywordMax)
				if tok == ")" {
					return
				}
				if tok != "entry" {
					panic("unknown field " + tok)
				}
				expect("(")
				expect("name")
				name := str(nameMax)
				if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || name <= prev {
					panic("bad name " + name)
				}
				prev = name
				expect("node")
				node(path.Join(p, name))
				expect(")")
			}
		default:
			panic("unknown type " + t)
		}
		expect(")")
	}
	expect("nix-archive-1")
	node("/")
	return lines, nil
}

// TestParserAgreesWithNixsRules truncates the test NARs at every byte
// and changes every byte of them (a few ways): the Parser must accept
// exactly what nixEvents accepts, reading the same.
func TestParserAgreesWithNixsRules(t *testing.T) {
	for name, data := range testNARs(t) {
		if want, err := nixEvents(data); err != nil {
			t.Fatalf("%s: oracle: %v (%v)", name, err, want)
		}
		check := func(what string, mutated []byte) {
			want, werr := nixEvents(mutated)
			got, gerr := parseInPieces(mutated, 61)
			if (werr == nil) != (gerr == nil) || werr == nil && !slices.Equal(got, want) {
				t.Fatalf("%s, %s: Parser %v (%v), oracle %v (%v)", name, what, got, gerr, want, werr)
			}
		}
		for i := range len(data) {
			if i > 1024 && i < len(data)-1024 && i%97 != 0 {
				continue // inside the large file: a sample is enough
			}
			check(fmt.Sprintf("cut at %d", i), data[:i])
			for _, b := range []byte{0, 1, ')', '.', '/', 0xff, data[i] ^ 0x20} {
				if b == data[i] {
					continue
				}
				m := slices.Clone(data)
				m[i] = b
				check(fmt.Sprintf("byte %d set to %#x", i, b), m)
			}
		}
	}
}
