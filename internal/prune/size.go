package prune

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Sizes is how much pruning saved: apparent sizes (file lengths and symlink
// target lengths, not disk blocks) of the tree before and after.
type Sizes struct {
	Before  int64       // SRC, within Options.Selected when given
	After   int64       // what the rules keep
	Largest []StoreSize // the ten largest store paths after pruning, largest first
	Limit   int64       // the limit passed in; 0 for none
	Warning string      // set when After exceeds Limit
}

// StoreSize is the apparent size of one store path after pruning.
type StoreSize struct {
	Path string // "/nix/store/<hash>-name"
	Size int64
}

// MeasureSizes measures SRC before pruning (within opts.Selected) and the
// report's kept entries after, and warns when the result exceeds limit bytes
// (0: no limit).
func MeasureSizes(src string, rep *Report, opts Options, limit int64) (*Sizes, error) {
	sel, err := newSelection(opts.Selected)
	if err != nil {
		return nil, err
	}
	s := &Sizes{Limit: limit}
	if s.Before, err = treeSize(src, sel); err != nil {
		return nil, err
	}
	per := map[string]int64{}
	for _, e := range rep.Kept {
		s.After += e.Size
		if parts := strings.SplitN(e.Path, "/", 3); len(parts) >= 2 && parts[0] == "store" {
			per[StoreDir+"/"+parts[1]] += e.Size
		}
	}
	for p, n := range per {
		if _, err := StoreRel(p); err == nil && n > 0 {
			s.Largest = append(s.Largest, StoreSize{Path: p, Size: n})
		}
	}
	sort.Slice(s.Largest, func(i, j int) bool {
		a, b := s.Largest[i], s.Largest[j]
		return a.Size > b.Size || (a.Size == b.Size && a.Path < b.Path)
	})
	if len(s.Largest) > 10 {
		s.Largest = s.Largest[:10]
	}
	if limit > 0 && s.After > limit {
		s.Warning = fmt.Sprintf("the pruned store is %s, over the limit of %s: exclude more in .slugexclude (the largest store paths are listed above)",
			formatSize(s.After), formatSize(limit))
	}
	return s, nil
}

func treeSize(dir string, sel *selection) (int64, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("unable to read directory %s\n%w", dir, err)
	}
	var total int64
	for _, de := range des {
		child, present := sel.child(de.Name())
		if !present {
			continue
		}
		p := filepath.Join(dir, de.Name())
		if de.IsDir() {
			n, err := treeSize(p, child)
			if err != nil {
				return 0, err
			}
			total += n
			continue
		}
		fi, err := de.Info()
		if err != nil {
			return 0, fmt.Errorf("unable to stat %s\n%w", p, err)
		}
		if fi.Mode().IsRegular() || fi.Mode()&fs.ModeSymlink != 0 {
			total += fi.Size()
		}
	}
	return total, nil
}

// Lines is the size report as log lines.
func (s *Sizes) Lines() []string {
	saved := ""
	if s.Before > 0 {
		saved = fmt.Sprintf(" (%.1f%% less)", 100*float64(s.Before-s.After)/float64(s.Before))
	}
	lines := []string{fmt.Sprintf("Store size: %s before pruning, %s after%s", formatSize(s.Before), formatSize(s.After), saved)}
	if len(s.Largest) > 0 {
		lines = append(lines, "Largest store paths after pruning:")
		for _, l := range s.Largest {
			lines = append(lines, fmt.Sprintf("  %10s  %s", formatSize(l.Size), l.Path))
		}
	}
	if s.Warning != "" {
		lines = append(lines, "Warning: "+s.Warning)
	}
	return lines
}

// formatSize writes bytes in decimal units, as slug limits are stated.
func formatSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
