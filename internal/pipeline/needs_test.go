package pipeline_test

import (
	"reflect"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/guard"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
)

func TestNeeds(t *testing.T) {
	const app = "/nix/store/wq3v0j1ljw665pm8i3g7gx2744sp03py-hello-web"
	const bb = "/nix/store/b8zzzm23p9pd6h8zbaiz806gqid7q81v-bb"
	rt := runtimejson.Runtime{
		Workers: map[string]runtimejson.Worker{
			"web":  {Command: `busybox httpd -f -p "$BIND_ADDRESS:$PORT" -h ` + app + `/www`},
			"docs": {Static: app + "/docs/"},
			"cron": {Command: "tick"},
		},
		Env:  map[string]string{"CONF": app + "/etc/app.conf", "PLAIN": "x", "PATHS": bb + "/bin:" + app + "/bin"},
		Path: []string{bb + "/bin", "/usr/bin"},
	}
	want := []guard.Need{
		{Path: app + "/www", By: "runtime.json workers.web"},
		{Path: app + "/docs", By: "runtime.json workers.docs"},
		{Path: app + "/etc/app.conf", By: "runtime.json env.CONF"},
		{Path: bb + "/bin", By: "runtime.json env.PATHS"},
		{Path: app + "/bin", By: "runtime.json env.PATHS"},
		{Path: bb + "/bin", By: "runtime.json path[0]"},
	}
	if got := pipeline.Needs(rt); !reflect.DeepEqual(got, want) {
		t.Fatalf("Needs() =\n%+v\nwant\n%+v", got, want)
	}
}
