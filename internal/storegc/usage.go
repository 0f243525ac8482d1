package storegc

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// Store is what the Nix database says about every valid path of a store.
type Store struct {
	// Infos maps each valid store path to its record.
	Infos map[string]narinfo.PathInfo
}

// ReadStore reads the records of every valid path (`nix-store --dump-db`
// with no arguments dumps the whole database, in Nix 2.8 and 2.26 alike).
func ReadStore(nix nixinstall.Nix) (Store, error) {
	infos, err := nix.Store().AllInfos()
	if err != nil {
		return Store{}, fmt.Errorf("unable to read the Nix database\n%w", err)
	}
	s := Store{Infos: make(map[string]narinfo.PathInfo, len(infos))}
	for _, info := range infos {
		s.Infos[info.StorePath] = info
	}
	return s, nil
}

// Size is the NAR size of every valid path, close to what the store takes
// on disk and in a cache layer's tarball before compression.
func (s Store) Size() int64 {
	var n int64
	for _, info := range s.Infos {
		n += int64(info.NarSize)
	}
	return n
}

// Closure returns the valid paths that roots reach through references;
// roots that are not valid paths are ignored.
func (s Store) Closure(roots []string) map[string]bool {
	seen := map[string]bool{}
	stack := append([]string(nil), roots...)
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		info, ok := s.Infos[p]
		if !ok || seen[p] {
			continue
		}
		seen[p] = true
		stack = append(stack, info.References...)
	}
	return seen
}

// RootSize is what one root (a named set of store paths) keeps alive
// beyond the roots listed before it.
type RootSize struct {
	// Name names the root: nix, output, build, previous, or another root's link.
	Name string
	// Paths and Bytes count the store paths this root adds to those before it.
	Paths int
	Bytes int64
}

// Usage is how a store's size splits between its roots.
type Usage struct {
	// Roots are in order of value: each counts only what the ones before
	// it do not already keep.
	Roots []RootSize
	// Live is what the roots keep; Garbage is what a collection frees.
	LivePaths, GarbagePaths int
	Live, Garbage           int64
}

// Measure splits the store between the roots, in order: a path shared by
// several roots counts for the first.
func (s Store) Measure(roots []Root) Usage {
	var u Usage
	kept := map[string]bool{}
	for _, r := range roots {
		rs := RootSize{Name: r.Name}
		for p := range s.Closure(r.Paths) {
			if !kept[p] {
				kept[p] = true
				rs.Paths++
				rs.Bytes += int64(s.Infos[p].NarSize)
			}
		}
		u.Roots = append(u.Roots, rs)
		u.LivePaths += rs.Paths
		u.Live += rs.Bytes
	}
	u.GarbagePaths = len(s.Infos) - u.LivePaths
	u.Garbage = s.Size() - u.Live
	return u
}

// Root is a named set of store paths kept alive together.
type Root struct {
	Name  string
	Paths []string
}

// Table formats a usage for operators: one line per root, then the
// garbage and the total.
func (u Usage) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-24s %8s %12s\n", "ROOT", "PATHS", "SIZE")
	for _, r := range u.Roots {
		if r.Name == RootRunning && r.Paths == 0 {
			continue
		}
		fmt.Fprintf(&b, "%-24s %8d %12s\n", r.Name, r.Paths, HumanBytes(r.Bytes))
	}
	fmt.Fprintf(&b, "%-24s %8d %12s\n", "(unrooted: garbage)", u.GarbagePaths, HumanBytes(u.Garbage))
	fmt.Fprintf(&b, "%-24s %8d %12s\n", "total", u.LivePaths+u.GarbagePaths, HumanBytes(u.Live+u.Garbage))
	return b.String()
}

// HumanBytes writes a byte count in binary units (KiB, MiB, GiB).
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGT"[exp])
}

// sortedKeys returns a set's members in order.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
