package launch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestLinkPrefix checks every state a /tmp link can be found in; the
// links live in a test directory, the checks are the same.
func TestLinkPrefix(t *testing.T) {
	dir := t.TempDir()
	closure := func(name, id string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(p, 0o755)
		os.WriteFile(filepath.Join(p, ClosureIDFile), []byte(id+"\n"), 0o644)
		return p
	}
	ours, copyOfOurs, other := closure("ours", "key-a"), closure("copy", "key-a"), closure("other", "key-b")
	for _, tc := range []struct {
		name  string
		setup func(link string)
		err   string
	}{
		{"fresh", func(string) {}, ""},
		{"ours already", func(l string) { os.Symlink(ours, l) }, ""},
		{"another copy of the same closure", func(l string) { os.Symlink(copyOfOurs, l) }, ""},
		{"another closure", func(l string) { os.Symlink(other, l) }, "points at " + other + ", which holds another closure"},
		{"a directory", func(l string) { os.Mkdir(l, 0o755) }, "exists and is not a symlink"},
		{"a dangling link", func(l string) { os.Symlink(filepath.Join(dir, "gone"), l) }, "which holds another closure"},
		{"another user's link", func(l string) {
			os.Symlink(ours, l)
			if os.Getuid() != 0 {
				testenv.Missing(t, "needs root to give the link to another uid (CI runs as root)")
				return
			}
			if err := os.Lchown(l, 2001, 2001); err != nil {
				t.Fatal(err)
			}
		}, "belongs to another user (uid 2001)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			link := filepath.Join(t.TempDir(), "abcde")
			tc.setup(link)
			err := linkPrefix(link, ours)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if entries, err := os.ReadDir(link); err != nil || len(entries) != 1 {
					t.Errorf("the link does not lead to the closure: %v %v", entries, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
		})
	}
}
