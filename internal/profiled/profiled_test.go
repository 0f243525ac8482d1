package profiled_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/profiled"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// hostile are values that run commands if a script pastes them into shell
// code unquoted or double quoted; each touches a file under dir.
func hostile(dir string) []string {
	f := func(n string) string { return filepath.Join(dir, "pwned"+n) }
	return []string{
		`/nix/store/x"; touch ` + f("1") + `; echo "`,
		`/nix/store/$(touch ` + f("2") + `)`,
		"/nix/store/`touch " + f("3") + "`",
		`/nix/store/x'; touch ` + f("4") + `; echo '`,
		"/nix/store/x\ntouch " + f("5") + "\n",
		`/nix/store/${X=$(touch ` + f("6") + `)}\`,
	}
}

// TestScriptKeepsValuesData sources the script in every POSIX shell here
// with hostile PATH entries and values: nothing runs, and PATH and the
// variables hold the literal text. Overrides beat the platform's value,
// defaults give way to it, PORT (a default) stays the platform's.
func TestScriptKeepsValuesData(t *testing.T) {
	shells := map[string][]string{"dash": {"/bin/sh"}, "bash": {"bash", "--posix"}}
	if bb, err := exec.LookPath("busybox"); err == nil {
		shells["busybox sh"] = []string{bb, "sh"}
	} else {
		testenv.Missing(t, "busybox is not installed")
	}
	for name, sh := range shells {
		t.Run(name, func(t *testing.T) {
			if _, err := exec.LookPath(sh[0]); err != nil {
				testenv.Missing(t, sh[0]+" is not installed")
			}
			app := t.TempDir()
			values := hostile(app)
			var env []process.Var
			names := []string{"V1", "V2", "V3", "V4", "V5", "V6"}
			for i, v := range values {
				env = append(env, process.Var{Name: names[i], Value: strings.TrimPrefix(v, "/nix/store/"), Precedence: process.Override})
			}
			env = append(env,
				process.Var{Name: "OVERRIDDEN", Value: "from runtime.json", Precedence: process.Override},
				process.Var{Name: "DEFAULTED", Value: "from hop3.toml", Precedence: process.Default},
				process.Var{Name: "UNSET_DEFAULT", Value: "it's $(touch " + app + "/pwned7)", Precedence: process.Default},
				process.Var{Name: "PORT", Value: "9999", Precedence: process.Default})
			script, err := profiled.Script(profiled.Slug{NixDirVar: "NIXBP_NIX_DIR", NixDir: ".nix", Path: values, Env: env})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(app, ".profile.d"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(app, ".profile.d", "nix.sh"), []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			show := append([]string{"NIXBP_NIX_DIR", "PATH"}, names...)
			show = append(show, "OVERRIDDEN", "DEFAULTED", "UNSET_DEFAULT", "PORT")
			line := `for f in .profile.d/*.sh; do . "$f"; done; printf '%s\0'`
			for _, n := range show {
				line += ` "$` + n + `"`
			}
			cmd := exec.Command(sh[0], append(sh[1:], "-c", line)...)
			cmd.Dir = app
			cmd.Env = []string{"PATH=/usr/bin:/bin", "PORT=5000", "OVERRIDDEN=config var", "DEFAULTED=config var"}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v\n%s\nscript:\n%s", err, out, script)
			}
			got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
			want := []string{app + "/.nix", strings.Join(values, ":") + ":" + app + "/.nix/bin:/usr/bin:/bin"}
			for _, v := range env[:len(names)] {
				want = append(want, v.Value)
			}
			want = append(want, "from runtime.json", "config var", "it's $(touch "+app+"/pwned7)", "5000")
			for i := range want {
				if i >= len(got) || got[i] != want[i] {
					t.Errorf("$%s = %q, want %q", show[i], at(got, i), want[i])
				}
			}
			if pwned, _ := filepath.Glob(filepath.Join(app, "pwned*")); len(pwned) > 0 {
				t.Errorf("sourcing the script ran commands from its values: %v\nscript:\n%s", pwned, script)
			}
		})
	}
}

func at(list []string, i int) string {
	if i < len(list) {
		return list[i]
	}
	return "<missing>"
}

// TestScriptRefuses checks that what cannot be written safely is an error
// naming the entry or variable, whatever a parser upstream checked.
func TestScriptRefuses(t *testing.T) {
	v := func(name, value string) []process.Var {
		return []process.Var{{Name: name, Value: value, Precedence: process.Override, Source: "runtime.json env"}}
	}
	tests := []struct {
		name string
		slug profiled.Slug
		err  string
	}{
		{"good", profiled.Slug{Path: []string{"/nix/store/a-b/bin"}, Env: v("A_1", "x")}, ""},
		{"relative path entry", profiled.Slug{Path: []string{"/nix/store/a/bin", "bin"}}, `runtime.json path[1] = "bin" is not an absolute directory`},
		{"command in a relative entry", profiled.Slug{Path: []string{"$(touch /tmp/pwned2)"}}, `path[0] = "$(touch /tmp/pwned2)" is not an absolute directory`},
		{"colon in an entry", profiled.Slug{Path: []string{"/a:/b"}}, `path[0] = "/a:/b" holds a ':'`},
		{"NUL in an entry", profiled.Slug{Path: []string{"/a\x00b"}}, "holds a NUL byte"},
		{"name climbing out", profiled.Slug{Env: v("../../x", "v")}, `runtime.json env: "../../x" is not an environment variable name`},
		{"name with a dash", profiled.Slug{Env: v("A-B", "v")}, `"A-B" is not an environment variable name`},
		{"name starting with a digit", profiled.Slug{Env: v("1A", "v")}, `"1A" is not an environment variable name`},
		{"name running a command", profiled.Slug{Env: v("A=$(id);B", "v")}, `is not an environment variable name`},
		{"empty name", profiled.Slug{Env: v("", "v")}, `"" is not an environment variable name`},
		{"NUL in a value", profiled.Slug{Env: v("A", "x\x00y")}, "the value of A holds a NUL byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.slug.NixDirVar, tt.slug.NixDir = "NIXBP_NIX_DIR", ".nix"
			_, err := profiled.Script(tt.slug)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("Script = %v, want error %q", err, tt.err)
			}
		})
	}
}

// TestScriptGuard: with a Guard that fails, sourcing the script in every
// POSIX shell here sets no PATH entry and no variable, and prints
// GuardFailed on stderr; with one that succeeds, it sets both (issue 21,
// row 1; internal/heroku's TestProfileRefusedLinkLeavesPATH runs the real
// launcher as the guard).
func TestScriptGuard(t *testing.T) {
	shells := map[string][]string{"dash": {"/bin/sh"}, "bash": {"bash", "--posix"}}
	if bb, err := exec.LookPath("busybox"); err == nil {
		shells["busybox sh"] = []string{bb, "sh"}
	} else {
		testenv.Missing(t, "busybox is not installed")
	}
	env := []process.Var{{Name: "VIA_LINK", Value: "/tmp/abcde/x-lib", Precedence: process.Override},
		{Name: "DEF", Value: "/tmp/abcde/y", Precedence: process.Default}}
	for name, sh := range shells {
		for _, guard := range []string{"false", "true"} {
			t.Run(name+", guard "+guard, func(t *testing.T) {
				script, err := profiled.Script(profiled.Slug{NixDirVar: "NIXBP_NIX_DIR", NixDir: ".nix",
					Path: []string{"/tmp/abcde/x-app/bin"}, Env: env, Guard: guard, GuardFailed: "it's refused"})
				if err != nil {
					t.Fatal(err)
				}
				app := t.TempDir()
				if err := os.WriteFile(filepath.Join(app, "nix.sh"), []byte(script), 0o644); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(sh[0], append(sh[1:], "-c", `. ./nix.sh; printf '%s|' "$PATH" "${VIA_LINK-unset}" "${DEF-unset}"`)...)
				cmd.Dir = app
				cmd.Env = []string{"PATH=/usr/bin:/bin"}
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("%v\n%s%s", err, out, stderr.String())
				}
				want, wantErr := "/usr/bin:/bin|unset|unset|", "it's refused\n"
				if guard == "true" {
					want, wantErr = "/tmp/abcde/x-app/bin:"+app+"/.nix/bin:/usr/bin:/bin|/tmp/abcde/x-lib|/tmp/abcde/y|", ""
				}
				if string(out) != want || stderr.String() != wantErr {
					t.Errorf("got %q, stderr %q; want %q, stderr %q\nscript:\n%s", out, stderr.String(), want, wantErr, script)
				}
			})
		}
	}
}
