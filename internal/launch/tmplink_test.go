package launch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestLinkPrefix checks every state a /tmp link can be found in; the
// links live in a test directory, the checks are the same. Issue 21: our
// own stale link is replaced (atomically), never followed into a directory
// another uid owns or can write (row 2); a relative target is resolved
// against the link's directory, as the kernel does (row 3).
func TestLinkPrefix(t *testing.T) {
	dir := t.TempDir()
	closure := func(name, id string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, ClosureIDFile), []byte(id+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	asRoot := func() {
		if os.Getuid() != 0 {
			testenv.Missing(t, "needs root to give a file to another uid (CI runs as root)")
		}
	}
	ours, copyOfOurs, other := closure("ours", "key-a"), closure("copy", "key-a"), closure("other", "key-b")
	// A decoy in the working directory: a relative link must not be
	// read against it.
	cwd := t.TempDir()
	t.Chdir(cwd)
	if err := os.MkdirAll(filepath.Join(cwd, "rel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cwd, "rel", ClosureIDFile), []byte("key-a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const kept, replaced = "kept", "replaced"
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, link string)
		want  string // kept: the link is as it was; replaced: it leads to ours; else an error
	}{
		{"fresh", func(*testing.T, string) {}, replaced},
		{"ours already", func(_ *testing.T, l string) { os.Symlink(ours, l) }, kept},
		{"another copy of the same closure", func(_ *testing.T, l string) { os.Symlink(copyOfOurs, l) }, kept},
		{"another copy of the same closure, relative to the link's directory", func(t *testing.T, l string) {
			rel, _ := filepath.Rel(filepath.Dir(l), copyOfOurs)
			os.Symlink(rel, l)
		}, kept},
		{"relative, the working directory holds the same closure, the link's directory another", func(t *testing.T, l string) {
			if err := os.Symlink(other, filepath.Join(filepath.Dir(l), "rel")); err != nil {
				t.Fatal(err)
			}
			os.Symlink("rel", l)
		}, "/rel, which holds another closure"},
		{"another closure", func(_ *testing.T, l string) { os.Symlink(other, l) }, "points at " + other + ", which holds another closure"},
		{"a directory", func(_ *testing.T, l string) { os.Mkdir(l, 0o755) }, "exists and is not a symlink"},
		{"our dangling link", func(_ *testing.T, l string) { os.Symlink(filepath.Join(dir, "gone"), l) }, replaced},
		{"our link into another uid's directory holding the same closure", func(t *testing.T, l string) {
			asRoot()
			theirs := closure("theirs-"+filepath.Base(filepath.Dir(l)), "key-a")
			if err := os.Chown(theirs, 2001, 2001); err != nil {
				t.Fatal(err)
			}
			os.Symlink(theirs, l)
		}, replaced},
		{"our link into a directory others can write holding the same closure", func(t *testing.T, l string) {
			open := closure("open-"+filepath.Base(filepath.Dir(l)), "key-a")
			if err := os.Chmod(open, 0o777); err != nil {
				t.Fatal(err)
			}
			os.Symlink(open, l)
		}, replaced},
		{"our link into the same closure below a directory others can write", func(t *testing.T, l string) {
			parent := filepath.Join(dir, "open-parent-"+filepath.Base(filepath.Dir(l)))
			closure(filepath.Join(filepath.Base(parent), "c"), "key-a")
			if err := os.Chmod(parent, 0o777); err != nil {
				t.Fatal(err)
			}
			os.Symlink(filepath.Join(parent, "c"), l)
		}, replaced},
		{"our link whose closure id file belongs to another uid", func(t *testing.T, l string) {
			asRoot()
			c := closure("idfile-"+filepath.Base(filepath.Dir(l)), "key-a")
			if err := os.Lchown(filepath.Join(c, ClosureIDFile), 2001, 2001); err != nil {
				t.Fatal(err)
			}
			os.Symlink(c, l)
		}, replaced},
		{"another user's link", func(t *testing.T, l string) {
			os.Symlink(ours, l)
			asRoot()
			if err := os.Lchown(l, 2001, 2001); err != nil {
				t.Fatal(err)
			}
		}, "belongs to another user (uid 2001)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			link := filepath.Join(t.TempDir(), "abcde")
			tc.setup(t, link)
			before, _ := os.Readlink(link)
			err := linkPrefix(link, ours)
			after, _ := os.Readlink(link)
			switch tc.want {
			case kept, replaced:
				if err != nil {
					t.Fatal(err)
				}
				if tc.want == kept && after != before {
					t.Errorf("the link now points at %s, want it kept at %s", after, before)
				}
				if tc.want == replaced && after != ours {
					t.Errorf("the link points at %s, want it replaced by one to %s", after, ours)
				}
				if entries, err := os.ReadDir(link); err != nil || len(entries) != 1 {
					t.Errorf("the link does not lead to the closure: %v %v", entries, err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want %q", err, tc.want)
				}
				if after != before {
					t.Errorf("a refused link was changed: %s, was %s", after, before)
				}
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(link), ".*")); len(left) > 0 {
				t.Errorf("temporary links left behind: %v", left)
			}
		})
	}
}
