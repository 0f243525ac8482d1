package layering_test

import (
	"reflect"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/layering"
)

const (
	app  = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app"
	lib  = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib"
	libc = "/nix/store/cccccccccccccccccccccccccccccccc-libc"
	big  = "/nix/store/dddddddddddddddddddddddddddddddd-big"
	tool = "/nix/store/ffffffffffffffffffffffffffffffff-tool"
)

func TestPlan(t *testing.T) {
	paths := []string{app, big, lib, libc, tool}
	refs := map[string][]string{app: {lib, big, tool}, lib: {libc}, tool: {libc}, big: nil, libc: nil}
	sizes := map[string]int64{app: 10, lib: 20, libc: 30, big: 900, tool: 5}
	tests := []struct {
		name string
		max  int
		want []layering.Layer
	}{
		{"one layer per path", 100, []layering.Layer{
			{Name: "store-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Paths: []string{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app"}},
			{Name: "store-cccccccccccccccccccccccccccccccc", Paths: []string{"cccccccccccccccccccccccccccccccc-libc"}},
			{Name: "store-dddddddddddddddddddddddddddddddd", Paths: []string{"dddddddddddddddddddddddddddddddd-big"}},
			{Name: "store-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Paths: []string{"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib"}},
			{Name: "store-ffffffffffffffffffffffffffffffff", Paths: []string{"ffffffffffffffffffffffffffffffff-tool"}},
		}},
		{"the app, then the most popular, the rest grouped", 3, []layering.Layer{
			{Name: "store-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Paths: []string{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app"}},
			{Name: "store-cccccccccccccccccccccccccccccccc", Paths: []string{"cccccccccccccccccccccccccccccccc-libc"}},
			{Name: "store-group-", Paths: []string{
				"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib", "dddddddddddddddddddddddddddddddd-big", "ffffffffffffffffffffffffffffffff-tool"}},
		}},
		{"one group", 1, nil},
		{"zero means one", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := layering.Plan(paths, refs, sizes, tt.max)
			if tt.want == nil {
				if len(got) != 1 || len(got[0].Paths) != len(paths) {
					t.Fatalf("Plan(max %d) = %+v, want one group of all", tt.max, got)
				}
				return
			}
			if len(got) == len(tt.want) && len(got) > 0 && tt.max < len(paths) {
				// The group's digest is checked for stability below, not here.
				tt.want[len(tt.want)-1].Name = got[len(got)-1].Name
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Plan(max %d) =\n%+v\nwant\n%+v", tt.max, got, tt.want)
			}
		})
	}
}

// The same closure, given in any order, gives the same layers.
func TestPlanIsDeterministic(t *testing.T) {
	refs := map[string][]string{app: {lib, big, tool}, lib: {libc}, tool: {libc}}
	a := layering.Plan([]string{app, big, lib, libc, tool}, refs, nil, 2)
	b := layering.Plan([]string{tool, libc, lib, big, app}, refs, nil, 2)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("order changed the plan:\n%+v\n%+v", a, b)
	}
	if a[1].Name[:12] != "store-group-" || len(a[1].Name) != 12+32 {
		t.Fatalf("group name %q", a[1].Name)
	}
}
