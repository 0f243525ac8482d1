package pipeline

import (
	"reflect"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
)

// TestMapStorePaths: every store path named for run time follows the
// relocation (runtime.json's env and path, the launch environment, process
// lines, static directories), and what describes the build does not.
func TestMapStorePaths(t *testing.T) {
	const out = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app"
	reloc := func(s string) string {
		if len(s) >= len("/nix/store/") && s[:len("/nix/store/")] == "/nix/store/" {
			return "/tmp/.nixs/" + s[len("/nix/store/"):]
		}
		return s
	}
	r := Result{Output: out, Closure: []string{out},
		Runtime:   runtimejson.Runtime{Env: map[string]string{"DATA": out + "/share"}, Path: []string{out + "/bin"}},
		Env:       []process.Var{{Name: "DATA", Value: out + "/share"}, {Name: "MODE", Value: "prod"}},
		Processes: []process.Process{{Type: "web", Static: out + "/public"}, {Type: "worker", Line: out + "/bin/w"}}}
	got := r.MapStorePaths(reloc)
	want := Result{Output: "/tmp/.nixs/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app", Closure: []string{out},
		Runtime: runtimejson.Runtime{Env: map[string]string{"DATA": "/tmp/.nixs/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app/share"},
			Path: []string{"/tmp/.nixs/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app/bin"}},
		Env: []process.Var{{Name: "DATA", Value: "/tmp/.nixs/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app/share"}, {Name: "MODE", Value: "prod"}},
		Processes: []process.Process{{Type: "web", Static: "/tmp/.nixs/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app/public"},
			{Type: "worker", Line: "/tmp/.nixs/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app/bin/w"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MapStorePaths =\n%+v\nwant\n%+v", got, want)
	}
	if r.Env[0].Value != out+"/share" || r.Runtime.Path[0] != out+"/bin" || r.Processes[0].Static != out+"/public" {
		t.Errorf("MapStorePaths changed its receiver: %+v", r)
	}
}
