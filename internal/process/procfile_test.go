package process_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	yaml3 "go.yaml.in/yaml/v3"
	yaml2 "gopkg.in/yaml.v2"

	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// hardWorkers are the hardest worker lines we have: the fixture apps'
// (hello-web, quoted-worker, flask-shaped), and every YAML indicator,
// comment, mapping separator, quote, expansion, operator and character
// YAML cannot hold.
var hardWorkers = []string{
	`busybox httpd -f -p "$BIND_ADDRESS:$PORT" -h /nix/store/abc-site/www`,
	`/nix/store/abc-busybox/bin/httpd -f -p $BIND_ADDRESS:$PORT -h '/nix/store/abc-quoted-worker/my www'`,
	`/nix/store/abc-start/bin/start -p $BIND_ADDRESS:$PORT -h /nix/store/abc-flask/app/www`,
	`echo it's $HOME`,
	`sh -c 'echo "key: value" # not a comment' && echo done | cat`,
	"printf '%s\\n' \"a:\tb\" 'tab\t#x' x: && true || false",
	`echo trailing colon:`,
	`cd /tmp; exec env -i FOO='a: b' sh -c 'echo "$FOO"' 2>&1 | tee -a log > /dev/null &`,
	`- dash`, `#hash`, `"double" quoted`, `'single' quoted`, `[a, b]`, `{a: 1}`, `! tag`, `& anchor`, `* alias`,
	`| pipe`, `> fold`, `% directive`, `@at`, "`tick`", `? key`, `: colon`, `---`, `...`,
	`echo $'x' "$(date +%H:%M)" ${HOME:-/} a\ b \\ \' \"`,
	`curl http://127.0.0.1:80/#frag a:#b a# b#`,
	"line one\nline two", "cr\r\n", "esc \x1b[0m", "nel\u0085x", "ls\u2028ps\u2029", "bom\ufeff", "del\x7f",
	"héllo ünïcode ✓", "bad utf-8 \xff\xfe", "tab\tend\t", "on", "123", "null", "~", "yes: no",
}

// TestProcfileCommand checks each hard worker's Procfile line: YAML
// parsers (gopkg.in/yaml.v2, what Cloud Foundry's builder and herokuish
// use, and yaml v3) read a mapping of strings whose value is the line's
// text, Heroku's Procfile pattern reads the same text, and bash runs it
// with the same argv as the line this buildpack wrote before Procfiles
// had to be YAML ("$NIXBP_NIX_DIR/bin/nixbp-launch" ... ShellJoin).
func TestProcfileCommand(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		testenv.Missing(t, "bash is not installed")
		return
	}
	nixDir := filepath.Join(t.TempDir(), ".nix")
	if err := os.MkdirAll(filepath.Join(nixDir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The launcher's stand-in prints its argv: what is compared is the
	// shell's reading of the line, not the launcher.
	printArgs := "#!/bin/sh\nprintf '%s\\0' \"$0\" \"$@\"\n"
	if err := os.WriteFile(filepath.Join(nixDir, "bin", "nixbp-launch"), []byte(printArgs), 0o755); err != nil {
		t.Fatal(err)
	}
	argv := func(line string) []string {
		cmd := exec.Command(bash, "-c", line)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "NIXBP_NIX_DIR=" + nixDir, "HOME=/home/x", "PORT=1"}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bash -c %q: %v", line, err)
		}
		return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	}
	heroku := regexp.MustCompile(`^([A-Za-z0-9_-]+):\s*(.+)$`) // Heroku's Procfile format

	var procs []process.Process
	for _, w := range hardWorkers {
		procs = append(procs, process.Process{Line: w})
	}
	procs = append(procs, process.Process{Static: "/nix/store/x-site/my www"}, process.Process{Static: "/nix/store/x-site/a: b #c"},
		process.Process{Static: "/nix/store/x-site/public"},
		// Hop3's cron worker, release task and addons: more launcher words.
		process.Process{Cron: "*/5 * * * *", Line: "echo tick: #1"}, process.Process{Cron: "@every 1s", Line: "busybox echo tick from cron"},
		process.Process{Release: []string{"migrate --to: head #x", "echo it's done"}, ReleaseByPlatform: true, Line: "serve -p $PORT"},
		process.Process{Addons: []string{"postgres: main"}, Static: "/nix/store/x-site/public"})
	var file strings.Builder
	want := map[string]string{}
	for i, p := range procs {
		p.Type = "t" + strings.Repeat("x", i)
		p.Launcher, p.NixDir = "$NIXBP_NIX_DIR/bin/nixbp-launch", "$NIXBP_NIX_DIR"
		line := process.ProcfileCommand(p)
		entry := p.Type + ": " + line
		file.WriteString(entry + "\n")
		want[p.Type] = line

		var v2 map[interface{}]interface{}
		if err := yaml2.Unmarshal([]byte(entry), &v2); err != nil || len(v2) != 1 || v2[p.Type] != line {
			t.Errorf("yaml.v2 reads %q as %#v (%v), want the line as a string", entry, v2, err)
		}
		var v3 map[string]interface{}
		if err := yaml3.Unmarshal([]byte(entry), &v3); err != nil || len(v3) != 1 || v3[p.Type] != line {
			t.Errorf("yaml v3 reads %q as %#v (%v), want the line as a string", entry, v3, err)
		}
		if m := heroku.FindStringSubmatch(entry); m == nil || m[2] != line {
			t.Errorf("Heroku's Procfile pattern reads %q as %q", entry, m)
		}
		legacy := `"$NIXBP_NIX_DIR/bin/nixbp-launch" --nix-dir "$NIXBP_NIX_DIR" ` + process.ShellJoin(p.WorkerArgs())
		wantArgv := append([]string{filepath.Join(nixDir, "bin", "nixbp-launch"), "--nix-dir", nixDir}, p.WorkerArgs()...)
		if got, old := argv(line), argv(legacy); !reflect.DeepEqual(got, wantArgv) || !reflect.DeepEqual(old, wantArgv) {
			t.Errorf("bash runs %s\nwith argv %q,\nthe legacy line with %q,\nwant %q", line, got, old, wantArgv)
		}
	}
	// The whole Procfile, as Cloud Foundry's builder reads it.
	var cf map[string]string
	if err := yaml2.Unmarshal([]byte(file.String()), &cf); err != nil || !reflect.DeepEqual(cf, want) {
		t.Errorf("yaml.v2 reads the Procfile as %q (%v), want %q", cf, err, want)
	}
}

func TestProcfileQuote(t *testing.T) {
	for in, want := range map[string]string{
		"abc": "abc", "": "''", "a b": "'a b'", "it's": `'it'\''s'`, "a:b": "'a:b'", "a: b": "'a:'' b'",
		"a #b": "'a ''#b'", "x:": "'x:'", "a\nb": `'a'$'\012''b'`, "\u2028": `''$'\342\200\250'''`,
	} {
		if got := process.ProcfileQuote(in); got != want {
			t.Errorf("ProcfileQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
