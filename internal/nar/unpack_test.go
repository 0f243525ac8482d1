package nar

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-community/go-nix/pkg/wire"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// narOf writes NAR tokens (each a NAR string) into a NAR, so tests can make
// archives no well-behaved writer would.
func narOf(t testing.TB, tokens ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, tok := range append([]string{"nix-archive-1"}, tokens...) {
		if err := wire.WriteString(&b, tok); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func file(name, contents string, executable bool) []string {
	toks := []string{"entry", "(", "name", name, "node", "(", "type", "regular"}
	if executable {
		toks = append(toks, "executable", "")
	}
	return append(toks, "contents", contents, ")", ")")
}

func dirOf(entries ...[]string) []string {
	toks := []string{"(", "type", "directory"}
	for _, e := range entries {
		toks = append(toks, e...)
	}
	return append(toks, ")")
}

func TestUnpack(t *testing.T) {
	tests := []struct {
		name   string
		tokens []string
		want   []string // testenv.DescribeTree of the result
		err    string
	}{
		{
			name:   "directory tree",
			tokens: dirOf(file("a", "hello", false), file("b", "#!/bin/sh\n", true), []string{"entry", "(", "name", "c", "node", "(", "type", "symlink", "target", "a", ")", ")"}),
			want: []string{
				" dr-xr-xr-x mtime=1",
				"/a -r--r--r-- mtime=1 5 bytes sha256 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
				"/b -r-xr-xr-x mtime=1 10 bytes sha256 a8076d3d28d21e02012b20eaf7dbf75409a6277134439025f282e368e3305abf",
				"/c Lrwxrwxrwx mtime=1 -> a",
			},
		},
		{
			name: "nested directories, left before a sibling",
			tokens: dirOf(
				append(append([]string{"entry", "(", "name", "a", "node"}, dirOf(file("b", "x", false),
					append(append([]string{"entry", "(", "name", "c", "node"}, dirOf(file("d", "", false))...), ")"))...), ")"),
				file("e", "y", true)),
			want: []string{
				" dr-xr-xr-x mtime=1",
				"/a dr-xr-xr-x mtime=1",
				"/a/b -r--r--r-- mtime=1 1 bytes sha256 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
				"/a/c dr-xr-xr-x mtime=1",
				"/a/c/d -r--r--r-- mtime=1 0 bytes sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				"/e -r-xr-xr-x mtime=1 1 bytes sha256 a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa",
			},
		},
		{name: "single file", tokens: []string{"(", "type", "regular", "contents", "x", ")"},
			want: []string{" -r--r--r-- mtime=1 1 bytes sha256 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"}},
		{name: "symlink", tokens: []string{"(", "type", "symlink", "target", "/nix/store/x", ")"},
			want: []string{" Lrwxrwxrwx mtime=1 -> /nix/store/x"}},
		{name: "entry named ..", tokens: dirOf(file("..", "x", false)), err: "invalid NAR"},
		{name: "entry named .", tokens: dirOf(file(".", "x", false)), err: "invalid NAR"},
		{name: "entry with a slash", tokens: dirOf(file("a/b", "x", false)), err: "invalid NAR"},
		{name: "entry twice", tokens: dirOf(file("a", "x", false), file("a", "y", false)), err: "exists"},
		{name: "entries out of order", tokens: dirOf(file("b", "x", false), file("a", "y", false)), err: "invalid NAR"},
		{name: "unknown type", tokens: []string{"(", "type", "fifo", ")"}, err: "invalid NAR"},
		{name: "truncated", tokens: dirOf(file("a", "x", false))[:9], err: "invalid NAR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "out")
			err := Unpack(bytes.NewReader(narOf(t, tt.tokens...)), parent, "out", nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				entries, _ := os.ReadDir(parent)
				if len(entries) > 1 || len(entries) == 1 && entries[0].Name() != "out" {
					t.Fatalf("unpack wrote outside its destination: %v", entries)
				}
				if err := tree.Remove(dst); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := testenv.DescribeTree(t, dst)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestRemoveTreeOfReadOnlyDirs(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "x")
	if err := Unpack(bytes.NewReader(narOf(t, dirOf([]string{"entry", "(", "name", "d", "node"}, dirOf(file("f", "x", false)), []string{")"})...)), parent, "x", nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "d"))
	if err != nil || fi.Mode().Perm() != 0o555 {
		t.Fatalf("d: %v %v", fi, err)
	}
	if err := tree.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Fatalf("still there: %v", err)
	}
}
