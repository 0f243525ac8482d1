package launch_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// launcherWith runs the built launcher with args after --nix-dir, under
// strategy (native in a private mount namespace).
func launcherWith(t *testing.T, nixDir, strategy string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(buildLauncher(t), append([]string{"--nix-dir", nixDir}, args...)...)
	cmd.Env = append(append(os.Environ(), "NIXBP_STRATEGY="+strategy, "PATH="+bbPath+"/bin:"+os.Getenv("PATH")), env...)
	cmd.WaitDelay = 5 * time.Second
	if strategy == "native" {
		asNative(cmd, nixDir)
	}
	return cmd
}

// appendLine is a command line appending word to the file $OUT.
func appendLine(word string) string {
	return bbPath + `/bin/sh -c 'echo ` + word + ` >> "$OUT"'`
}

// TestLauncherReleaseTask runs the release task before the worker, stops
// the start when it fails, runs it alone without a worker, and leaves it to
// a platform with a release phase (but not to Cloud Foundry).
func TestLauncherReleaseTask(t *testing.T) {
	nixDir := testStore(t)
	fail := bbPath + "/bin/sh -c 'echo boom >&2; exit 3'"
	cases := []struct {
		name   string
		env    []string
		args   []string
		status int
		want   string // $OUT
		log    []string
	}{
		{name: "before the worker", args: []string{"--release", appendLine("migrate"), "--release", appendLine("seed"), "--", appendLine("web")},
			want: "migrate\nseed\nweb\n", log: []string{"release task [1/2]: " + appendLine("migrate"), "release task done (2 commands)"}},
		{name: "a failure stops the start", args: []string{"--release", fail, "--release", appendLine("seed"), "--", appendLine("web")},
			status: 3, want: "", log: []string{"boom", "release task [1/2] failed with status 3", "not starting the app"}},
		{name: "alone, as the process type release", args: []string{"--release", appendLine("migrate")}, want: "migrate\n"},
		{name: "left to the platform's release phase", args: []string{"--release", appendLine("migrate"), "--release-by-platform", "--", appendLine("web")},
			want: "web\n", log: []string{"release task left to the platform's release phase"}},
		{name: "Cloud Foundry has no release phase", env: []string{`VCAP_APPLICATION={"name":"app"}`},
			args: []string{"--release", appendLine("migrate"), "--release-by-platform", "--", appendLine("web")},
			want: "migrate\nweb\n", log: []string{"Cloud Foundry and Kf have no release phase"}},
		{name: "NIXBP_RELEASE=skip", env: []string{"NIXBP_RELEASE=skip"}, args: []string{"--release", appendLine("migrate"), "--", appendLine("web")},
			want: "web\n", log: []string{"release task not run (NIXBP_RELEASE=skip)"}},
		{name: "static site after the release task", args: []string{"--release", fail, "--static", "/nonexistent"},
			status: 3, want: "", log: []string{"not starting the app"}},
	}
	for _, strategy := range strategies(t) {
		for _, c := range cases {
			t.Run(strategy+"/"+c.name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out")
				cmd := launcherWith(t, nixDir, strategy, append([]string{"OUT=" + out}, c.env...), c.args...)
				log, err := cmd.CombinedOutput()
				if got := shellStatus(cmd, err); got != c.status {
					t.Fatalf("status %d, want %d\n%s", got, c.status, log)
				}
				data, _ := os.ReadFile(out)
				if string(data) != c.want {
					t.Errorf("$OUT = %q, want %q\n%s", data, c.want, log)
				}
				for _, l := range c.log {
					if !strings.Contains(string(log), l) {
						t.Errorf("log lacks %q:\n%s", l, log)
					}
				}
			})
		}
	}
}

// TestLauncherCron runs a cron worker with a seconds-level schedule: it
// fires again and again (the evidence is awaited with a generous bound,
// never timed), and SIGTERM stops it between runs.
func TestLauncherCron(t *testing.T) {
	nixDir := testStore(t)
	for _, strategy := range strategies(t) {
		t.Run(strategy, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			cmd := launcherWith(t, nixDir, strategy, []string{"OUT=" + out}, "--cron", "@every 1s", "--", appendLine("tick"))
			var log strings.Builder
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(2 * time.Minute)
			for {
				data, _ := os.ReadFile(out)
				if strings.Count(string(data), "tick\n") >= 2 {
					break
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					t.Fatalf("the cron worker did not fire twice within 2 minutes: $OUT = %q\n%s", data, log.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
			target := cmd.Process.Pid
			_ = cmd.Process.Signal(syscall.SIGTERM)
			if strategy == "native" {
				_ = syscall.Kill(target, syscall.SIGTERM) // under unshare
			}
			err := cmd.Wait()
			if got := shellStatus(cmd, err); got != 128+int(syscall.SIGTERM) {
				t.Fatalf("status %d after SIGTERM, want 143\n%s", got, log.String())
			}
			for _, want := range []string{`cron: schedule "@every 1s", command: ` + appendLine("tick") + ";", "cron: running (due ",
				"run ended with status 0; next run at", "cron: stopped by terminated"} {
				if !strings.Contains(log.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, log.String())
				}
			}
		})
	}
}

// TestLauncherMapsAddons gives the worker Hop3's postgres variables from a
// service binding directory, keeps what the platform set, and says where
// each came from without showing a value.
func TestLauncherMapsAddons(t *testing.T) {
	nixDir := testStore(t)
	root := t.TempDir()
	db := filepath.Join(root, "main-db")
	if err := os.MkdirAll(db, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"type": "postgresql", "host": "10.0.0.5", "port": "5433", "username": "app", "password": "pa ss", "database": "appdb"} {
		if err := os.WriteFile(filepath.Join(db, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	printenv := bbPath + `/bin/sh -c 'echo "url=$DATABASE_URL host=$PGHOST port=$PGPORT user=$PGUSER password=$PGPASSWORD db=$PGDATABASE"'`
	cases := []struct {
		name, want string
		env        []string
	}{
		{name: "from the binding", want: "url=postgresql://app:pa%20ss@10.0.0.5:5433/appdb host=10.0.0.5 port=5433 user=app password=pa ss db=appdb"},
		{name: "the platform's value wins", env: []string{"PGHOST=pgbouncer"},
			want: "url=postgresql://app:pa%20ss@10.0.0.5:5433/appdb host=pgbouncer port=5433 user=app password=pa ss db=appdb"},
	}
	list := strategies(t)
	for _, strategy := range list[:min(2, len(list))] {
		for _, c := range cases {
			t.Run(strategy+"/"+c.name, func(t *testing.T) {
				cmd := launcherWith(t, nixDir, strategy, append([]string{"SERVICE_BINDING_ROOT=" + root}, c.env...), "--addon", "postgres", "--", printenv)
				log, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%v\n%s", err, log)
				}
				if !strings.Contains(string(log), c.want+"\n") {
					t.Errorf("worker saw\n%s\nwant %s", log, c.want)
				}
				if !strings.Contains(string(log), "addon postgres: DATABASE_URL, PGDATABASE, PGUSER, PGPASSWORD") ||
					!strings.Contains(string(log), "from the service binding "+db+" (type postgresql)") {
					t.Errorf("log does not say where the variables came from:\n%s", log)
				}
				if strings.Count(string(log), "pa ss") != 1 {
					t.Errorf("the password reached the launcher's log:\n%s", log)
				}
			})
		}
	}
}

// TestLauncherCronSkipsWhileRunning never starts a run while the previous
// one is going: the firings due meanwhile are skipped, and said to be.
func TestLauncherCronSkipsWhileRunning(t *testing.T) {
	nixDir := testStore(t)
	out := filepath.Join(t.TempDir(), "out")
	job := bbPath + `/bin/sh -c 'echo start >> "$OUT"; sleep 2.5; echo end >> "$OUT"'`
	cmd := launcherWith(t, nixDir, "userns", []string{"OUT=" + out}, "--cron", "@every 1s", "--", job)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		data, _ := os.ReadFile(out)
		if strings.Count(string(data), "end\n") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("two runs did not end within 2 minutes: %q\n%s", data, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	data, _ := os.ReadFile(out)
	lines := strings.Fields(string(data))
	for i, l := range lines {
		if want := []string{"start", "end"}[i%2]; l != want {
			t.Fatalf("runs overlapped: line %d is %q, want %q:\n%s", i+1, l, want, data)
		}
	}
	if !strings.Contains(log.String(), "skipped the run(s) due from") {
		t.Errorf("the skipped firings are not logged:\n%s", log.String())
	}
}
