package prune

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/prune/dirfd"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"

	"golang.org/x/sys/unix"
)

// Helpers shared by the tests: random trees, tree snapshots, and real rsync.

// nameParts are the pieces generated names are made of: store-like names,
// shared-library suffixes, dotfiles, and the characters rsync patterns treat
// specially (* ? [ ] \), which must still work as plain name characters.
var nameParts = []string{
	"a", "b", "lib", "bin", "share", "so", ".so", ".so.1", "libfoo", "_so", ".hidden",
	"x[1]", "a*b", "q?", `back\slash`, "sp ace", "dash-", "UPPER", "1", "+", "-", "!",
	"#c", ";s", "d.d", "x]y", "[", "nix-1", "user-environment", "my-awesome-app", "doc",
}

type genTree struct {
	paths []string // every created path, relative
}

// makeTree fills dir with a random tree: nested directories (some empty),
// files of a few modes, symlinks (some dangling, some to directories), a FIFO.
func makeTree(t testing.TB, rng *rand.Rand, dir string) *genTree {
	t.Helper()
	g := &genTree{}
	base := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	var dirs []string
	var fill func(rel string, depth int)
	fill = func(rel string, depth int) {
		n := rng.Intn(6)
		if depth == 0 {
			n += 3
		}
		for i := 0; i < n; i++ {
			name := randName(rng)
			r := filepath.Join(rel, name)
			abs := filepath.Join(dir, r)
			if _, err := os.Lstat(abs); err == nil {
				continue
			}
			switch k := rng.Intn(100); {
			case k < 40 && depth < 4:
				must(t, os.Mkdir(abs, 0o755))
				g.paths = append(g.paths, r)
				dirs = append(dirs, r)
				fill(r, depth+1)
			case k < 80:
				must(t, os.WriteFile(abs, bytes.Repeat([]byte(name), rng.Intn(40)), 0o644))
				must(t, os.Chmod(abs, []fs.FileMode{0o644, 0o755, 0o600, 0o444, 0o555, 0o4755}[rng.Intn(6)]))
				g.paths = append(g.paths, r)
			case k < 97:
				targets := []string{"a", "../b", "/nix/store/x", name, "lib/libfoo.so.1", "."}
				must(t, os.Symlink(targets[rng.Intn(len(targets))], abs))
				g.paths = append(g.paths, r)
			default:
				must(t, syscall.Mkfifo(abs, 0o640))
				g.paths = append(g.paths, r)
			}
			mt := base.Add(time.Duration(rng.Int63n(1e17)))
			must(t, lutimes(abs, mt))
		}
	}
	fill("", 0)
	// Directory modes and times last, deepest first, as a real store has them.
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		abs := filepath.Join(dir, d)
		must(t, os.Chmod(abs, []fs.FileMode{0o755, 0o555, 0o700, 0o1777, 0o2755}[rng.Intn(5)]))
		must(t, lutimes(abs, base.Add(time.Duration(rng.Int63n(1e17)))))
	}
	must(t, lutimes(dir, base))
	return g
}

func randName(rng *rand.Rand) string {
	var b strings.Builder
	for i := 0; i <= rng.Intn(3); i++ {
		b.WriteString(nameParts[rng.Intn(len(nameParts))])
	}
	return b.String()
}

func lutimes(path string, t time.Time) error {
	return dirfd.SetMtime(unix.AT_FDCWD, path, syscall.NsecToTimespec(t.UnixNano()), true)
}

// tempDir is testenv.TempDir.
func tempDir(t testing.TB) string { t.Helper(); return testenv.TempDir(t) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot describes every path of a tree, the root included ("."), by what
// `rsync -a` preserves: type, permission bits, owner, mtime, symlink target,
// and content.
func snapshot(root string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v uid=%d gid=%d mtime=%d.%09d", fi.Mode(), st.Uid, st.Gid, st.Mtim.Sec, st.Mtim.Nsec)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" size=%d sha256=%x", len(data), sha256.Sum256(data))
		}
		out[rel] = desc
		return nil
	})
	return out, err
}

// diffSnapshots lists the differences between two snapshots, or "".
func diffSnapshots(want, got map[string]string) string {
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	n := 0
	for _, k := range keys {
		w, okw := want[k]
		g, okg := got[k]
		switch {
		case okw && okg && w == g:
			continue
		case !okg:
			fmt.Fprintf(&b, "  missing %q (rsync: %s)\n", k, w)
		case !okw:
			fmt.Fprintf(&b, "  extra %q (ours: %s)\n", k, g)
		default:
			fmt.Fprintf(&b, "  differs %q\n    rsync: %s\n    ours:  %s\n", k, w, g)
		}
		if n++; n == 15 {
			b.WriteString("  ...\n")
			break
		}
	}
	return b.String()
}

// rsyncCopy runs real rsync the way the buildpack's predecessors did.
func rsyncCopy(rsync, rules, src, dst string, prune bool, extra ...string) error {
	args := []string{"-a"}
	if prune {
		args = append(args, "--prune-empty-dirs")
	}
	args = append(args, extra...)
	args = append(args, "--exclude-from="+rules, src+"/", dst+"/")
	cmd := exec.Command(rsync, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("rsync %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
