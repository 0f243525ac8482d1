package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
)

func TestReadRun(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  config.Run // Notes are checked by notes
		notes []string   // each note must start with one of these, in order
		err   string
	}{
		{name: "nothing", files: map[string]string{"hop3.nix": ""}},
		{name: "run, workers and env", files: map[string]string{"hop3.toml": "[run]\nstart = \"serve\"\n\n[run.workers]\nclock = \"tick\"\n\n" +
			"[env]\nDEBUG = false\nWORKERS = 4\nRATIO = 0.5\nNAME = \"x\"\n_policy = \"override\"\n\n[env.computed]\nURL = \"${HOST}\"\n"},
			want: config.Run{TOML: "hop3.toml", Start: "serve", Workers: map[string]string{"clock": "tick"},
				Env: map[string]string{"DEBUG": "False", "WORKERS": "4", "RATIO": "0.5", "NAME": "x"}},
			notes: []string{"hop3.toml: not applied by the buildpack (Hop3's server acts on them): [env] _policy",
				`hop3.toml:15: [env.computed] URL = "${HOST}" is expanded by Hop3's server at deploy, not by a buildpack: set URL on the platform`}},
		{name: "start as a list", files: map[string]string{"hop3.toml": "[run]\nstart = [\"migrate\", \"serve\"]\n"},
			want: config.Run{TOML: "hop3.toml", Start: "migrate && serve"}},
		{name: "hop3/hop3.toml and hop3/Procfile win", files: map[string]string{
			"hop3/hop3.toml": "[env]\nA = \"1\"\n", "hop3.toml": "[env]\nB = \"2\"\n",
			"hop3/Procfile": "web: a\n", "Procfile": "web: b\n"},
			want: config.Run{TOML: "hop3/hop3.toml", Env: map[string]string{"A": "1"}, Procfile: "hop3/Procfile",
				ProcfileWorkers: map[string]string{"web": "a"}}},
		{name: "Procfile", files: map[string]string{"Procfile": "# comment\n\nweb: serve --port $PORT\nclock:tick\n" +
			"old: \"$NIXBP_NIX_DIR/bin/nixbp-launch\" --nix-dir x -- y\nnew: $NIXBP_NIX_DIR/bin/nixbp-launch --nix-dir \"$NIXBP_NIX_DIR\" -- 'y'\n"},
			want: config.Run{Procfile: "Procfile", ProcfileWorkers: map[string]string{"web": "serve --port $PORT", "clock": "tick"}}},
		{name: "typo in [build.nix]", files: map[string]string{"hop3.toml": "[build]\nmethod = \"nix\"\n\n[build.nix]\nfiel = \"other.nix\"\n"},
			want: config.Run{TOML: "hop3.toml"},
			notes: []string{`hop3.toml:5: warning: unknown key "fiel" in [build.nix] (Hop3's schema refuses it); known keys: file, pure, nixpkgs, attr`,
				"hop3.toml:2: note: [build] method is a nix-buildpack extension (ADR 006): Hop3's own schema refuses it",
				"hop3.toml:4: note: [build.nix] is a nix-buildpack extension"}},
		{name: "unknown section and key, pure, sections not applied", files: map[string]string{"hop3.toml": "[metadata]\nid = \"x\"\ncolour = \"red\"\n\n" +
			"[build]\nbuilder = \"nix\"\nbefore-build = \"make\"\n\n[build.nix]\npure = true\n\n[healthcheck]\npath = \"/\"\n\n[deployment]\nx = 1\n\n[test]\npriority = \"P1\"\n\n" +
			"[[test.validations]]\npath = \"/\"\nstatus = 200\nbody = \"x\"\n"},
			want: config.Run{TOML: "hop3.toml", Healthcheck: &config.Healthcheck{Path: "/", Source: "hop3.toml:12 [healthcheck]"}},
			notes: []string{`hop3.toml:3: warning: unknown key "colour" in [metadata]`, `hop3.toml:15: warning: unknown key "deployment" at the top level`,
				`hop3.toml:24: warning: unknown key "body" in [test.validations]`,
				"hop3.toml:10: warning: [build.nix] pure is not applied: Hop3 does not implement it",
				"hop3.toml:9: note: [build.nix] is a nix-buildpack extension",
				"hop3.toml: not applied by the buildpack (Hop3's server acts on them): [build] before-build"}},
		{name: "Hop3's static-hello hop3.toml is clean", files: map[string]string{"hop3.toml": "# hop3.toml\n\n[build]\nbuilder = \"nix\"\n\n" +
			"[test]\npriority = \"P1\"\ntier = \"fast\"\nauthor = \"hop3-team\"\ntargets = [\"docker\", \"remote\"]\ncovers = [\"static\", \"nix\"]\n\n" +
			"[[test.validations]]\npath = \"/\"\nstatus = 200\ncontains = \"Hello World\"\n"},
			want: config.Run{TOML: "hop3.toml"}},
		{name: "Hop3's current sections are known, and named once as not applied", files: map[string]string{"hop3.toml": "[build]\nbuilder = \"nix\"\nstatic-dir = \"site\"\n\n" +
			"[healthcheck]\npath = \"/\"\ncontains = \"ok\"\n\n[[ports]]\nnumber = 25\nprotocol = \"tcp\"\nname = \"smtp\"\nsource = \"any\"\n\n" +
			"[[volumes]]\nname = \"data\"\ntarget = \"data\"\n[volumes.backup]\ninclude = false\n\n[limits]\nmemory = \"512M\"\ncpu = 1.5\nprocesses = 64\n\n" +
			"[waf]\nenabled = true\nmode = \"detect\"\nallow = [\"/.*\"]\n[[waf.gate]]\npaths = [\"/admin/.*\"]\nrequire = \"office\"\n" +
			"[[waf.tuning]]\ndisable-rule-ids = [942100]\nreason = \"x\"\n[waf.bans]\nenabled = true\nwindow = \"10m\"\n\n" +
			"[contexts.prod]\nserver = \"ssh://root@example.com\"\n[contexts.prod.domains]\nlist = [\"example.com\"]\n\n" +
			"[admin]\nusername = \"admin\"\npassword = { generate = \"password\", length = 20 }\ncreate = \"x\"\n\n[probe]\nusername = \"p\"\n\n" +
			"[nix]\ntemplate = \"prebuilt-binary\"\n"},
			want: config.Run{TOML: "hop3.toml", Healthcheck: &config.Healthcheck{Path: "/", Contains: "ok", Source: "hop3.toml:5 [healthcheck]"}},
			notes: []string{"hop3.toml: not applied by the buildpack (Hop3's server acts on them): [build] static-dir, [contexts], " +
				"[ports], [volumes], [limits], [waf], [admin], [probe]"}},
		{name: "[nix] without a template is not applied", files: map[string]string{"hop3.toml": "[nix]\nurl = \"x\"\n"},
			want:  config.Run{TOML: "hop3.toml"},
			notes: []string{"hop3.toml: not applied by the buildpack (Hop3's server acts on them): [nix]"}},
		{name: "env name", files: map[string]string{"hop3.toml": "[env]\nOK = \"1\"\n\"a-b\" = \"2\"\n"},
			err: `hop3.toml:3: [env] "a-b" is not an environment variable name`},
		{name: "env array", files: map[string]string{"hop3.toml": "[env]\nL = [1, 2]\n"},
			err: "hop3.toml:2: [env] L must be a string, number or boolean, got array"},
		{name: "env not a table", files: map[string]string{"hop3.toml": "env = \"x\"\n"},
			err: "hop3.toml:1: env must be a table, got string"},
		{name: "start not a string", files: map[string]string{"hop3.toml": "[run]\nstart = 3\n"},
			err: "hop3.toml:2: [run] start must be a non-empty command line or a list of them, got integer"},
		{name: "worker not a string", files: map[string]string{"hop3.toml": "[run.workers]\nclock = 3\n"},
			err: "hop3.toml:2: [run.workers] clock must be a command line, got integer"},
		{name: "syntax error", files: map[string]string{"hop3/hop3.toml": "[run\n"},
			err: "hop3/hop3.toml:2: invalid TOML"},
		{name: "bad Procfile line", files: map[string]string{"Procfile": "web: a\nnot a process\n"},
			err: `Procfile:2: expected "<process type>: <command line>", got "not a process"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := config.ReadRun(dir)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ReadRun() error = %v; want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadRun() error = %v", err)
			}
			notes := got.Notes
			got.Notes = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ReadRun() =\n%+v\nwant\n%+v", got, tt.want)
			}
			if len(notes) != len(tt.notes) {
				t.Fatalf("Notes =\n%s\nwant %d notes like\n%s", strings.Join(notes, "\n"), len(tt.notes), strings.Join(tt.notes, "\n"))
			}
			for i, n := range tt.notes {
				if !strings.HasPrefix(notes[i], n) {
					t.Errorf("note %d = %q\nwant it to start with %q", i, notes[i], n)
				}
			}
		})
	}
}
