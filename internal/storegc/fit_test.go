package storegc

import (
	"slices"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// TestFit checks the order in which roots are dropped to fit a bound, on a
// made-up store: nix (10) <- output (5, refers to lib 2), build (output,
// dep 20), previous (4, refers to lib).
func TestFit(t *testing.T) {
	info := func(p string, size uint64, refs ...string) narinfo.PathInfo {
		return narinfo.PathInfo{StorePath: p, NarSize: size, References: refs}
	}
	s := Store{Infos: map[string]narinfo.PathInfo{}}
	for _, i := range []narinfo.PathInfo{info("nix", 10), info("out", 5, "lib"), info("lib", 2), info("dep", 20),
		info("prev", 4, "lib"), info("junk", 100)} {
		s.Infos[i.StorePath] = i
	}
	plan := []Root{{RootNix, []string{"nix"}}, {RootOutput, []string{"out"}}, {RootBuild, []string{"out", "dep"}},
		{RootPrevious, []string{"prev"}}}
	for _, c := range []struct {
		max     int64
		kept    []string
		dropped []int64
		over    bool
	}{
		{max: 0, kept: []string{"nix", "output", "build", "previous"}},
		{max: 41, kept: []string{"nix", "output", "build", "previous"}},
		{max: 40, kept: []string{"nix", "output", "build"}, dropped: []int64{4}},
		{max: 37, kept: []string{"nix", "output", "build"}, dropped: []int64{4}},
		{max: 36, kept: []string{"nix", "output"}, dropped: []int64{4, 20}},
		{max: 17, kept: []string{"nix", "output"}, dropped: []int64{4, 20}},
		{max: 16, kept: []string{"nix", "output"}, dropped: []int64{4, 20}, over: true},
	} {
		kept, dropped, over := fit(s, plan, c.max)
		var names []string
		for _, r := range kept {
			names = append(names, r.Name)
		}
		var sizes []int64
		for _, d := range dropped {
			sizes = append(sizes, d.Bytes)
		}
		if !slices.Equal(names, c.kept) || !slices.Equal(sizes, c.dropped) || over != c.over {
			t.Errorf("fit(max %d) kept %v, dropped sizes %v, over %v; want %v, %v, %v", c.max, names, sizes, over, c.kept, c.dropped, c.over)
		}
	}
	u := s.Measure(plan)
	if u.Live != 41 || u.Garbage != 100 || u.LivePaths != 5 || u.GarbagePaths != 1 {
		t.Errorf("Measure = %+v", u)
	}
}
