package launch_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// The built launcher and a small store, made once for the tests that run
// them: bb holds busybox and applet links, app holds worker scripts.
var (
	launcherBin string
	bbPath      = "/nix/store/0bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-busybox-test"
	appPath     = "/nix/store/0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-launch-test"
)

var scripts = map[string]string{
	"exit.sh":     `exit "$1"`,
	"selfkill.sh": `kill -TERM $$; sleep 5`,
	"term.sh": `trap 'echo "got TERM"; exit 42' TERM
echo ready
while :; do sleep 0.05; done`,
	"fds.sh": `echo "stdin=$(readlink /proc/$$/fd/0) stdout=$(readlink /proc/$$/fd/1)"
tr a-z A-Z`,
	// As PID 1's child: orphan a process, let it exit, count zombies,
	// then ask PID 1 to stop us.
	"pid1.sh": `trap 'echo "got TERM"; exit 42' TERM
sh -c 'sleep 0.1 &'
sleep 0.5
zombies=0
for f in /proc/[0-9]*/stat; do
  read -r line < "$f" || continue
  case "$line" in *") Z "*) zombies=$((zombies+1)) ;; esac
done
echo "pid=$$ zombies=$zombies"
kill -TERM 1
while :; do sleep 0.05; done`,
}

// buildLauncher builds cmd/nixbp-launch once per test binary.
func buildLauncher(t *testing.T) string {
	t.Helper()
	if launcherBin != "" {
		return launcherBin
	}
	dir, err := os.MkdirTemp("", "nixbp-launch-test-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "nixbp-launch")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/nixbp-launch")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/nixbp-launch: %v\n%s", err, out)
	}
	launcherBin = bin
	return bin
}

// testStore makes DIR/nix/store with busybox and the worker scripts.
func testStore(t *testing.T) string {
	t.Helper()
	nixDir := filepath.Join(t.TempDir(), "nix")
	bb := filepath.Join(nixDir, strings.TrimPrefix(bbPath, "/nix/"))
	testenv.Busybox(t, filepath.Dir(bb)) // makes <store>/bb/bin/busybox
	if err := os.Rename(filepath.Join(filepath.Dir(bb), "bb"), bb); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sleep", "readlink", "tr", "cat", "kill"} {
		if err := os.Symlink("busybox", filepath.Join(bb, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	app := filepath.Join(nixDir, strings.TrimPrefix(appPath, "/nix/"))
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(app, name), []byte(body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return nixDir
}

// worker is the command line that runs one of the scripts with the store's sh.
func worker(script string, args ...string) string {
	return strings.Join(append([]string{bbPath + "/bin/sh", appPath + "/" + script}, args...), " ")
}

// launcher returns a command running the built launcher with strategy.
func launcher(t *testing.T, nixDir, strategy, line string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(buildLauncher(t), "--nix-dir", nixDir, "--", line)
	cmd.Env = append(os.Environ(), "NIXBP_STRATEGY="+strategy, "PATH="+bbPath+"/bin:"+os.Getenv("PATH"))
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// strategies are the ones this machine can run, each a name and a wrapper
// that makes it possible: native needs /nix to be the store directory, made
// here with a bind mount in a private user and mount namespace.
func strategies(t *testing.T) []string {
	list := []string{"userns"}
	if _, err := exec.LookPath("proot"); err == nil {
		list = append(list, "proot")
	} else {
		testenv.Missing(t, "proot is not installed")
	}
	if fi, err := os.Stat("/nix"); err == nil && fi.IsDir() {
		list = append(list, "native")
	}
	return list
}

// asNative wraps cmd so that it runs where /nix is nixDir.
func asNative(cmd *exec.Cmd, nixDir string) {
	args := append([]string{"unshare", "--user", "--map-root-user", "--mount", "--",
		"/bin/sh", "-c", `mount --bind "$0" /nix && exec "$@"`, nixDir}, cmd.Args...)
	cmd.Path, cmd.Args = "/usr/bin/unshare", args
}

// shellStatus is the exit status as a shell reports it (128+n for signal n).
func shellStatus(cmd *exec.Cmd, err error) int {
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return -1
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func TestLauncherPassesExitCodes(t *testing.T) {
	nixDir := testStore(t)
	cases := []struct {
		name, line string
		want       int
	}{
		{"exit 0", worker("exit.sh", "0"), 0},
		{"exit 7", worker("exit.sh", "7"), 7},
		{"exit 125", worker("exit.sh", "125"), 125},
		{"killed by SIGTERM", worker("selfkill.sh"), 128 + int(syscall.SIGTERM)},
		{"interpreted line", bbPath + "/bin/sh -c 'exit 3' && true", 3},
		{"interpreted line's environment", "export X=7; unset PORT; " + bbPath + `/bin/sh -c 'test -z "$PORT" && exit $X'`, 7},
		{"missing program", "/nix/store/does-not-exist/bin/app", 127},
	}
	for _, strategy := range strategies(t) {
		for _, c := range cases {
			t.Run(strategy+"/"+c.name, func(t *testing.T) {
				cmd := launcher(t, nixDir, strategy, c.line)
				if strategy == "native" {
					asNative(cmd, nixDir)
				}
				out, err := cmd.CombinedOutput()
				if got := shellStatus(cmd, err); got != c.want {
					t.Fatalf("status %d, want %d\n%s", got, c.want, out)
				}
				if !strings.Contains(string(out), "nixbp-launch: /nix through "+strategy) {
					t.Errorf("no strategy line for %s:\n%s", strategy, out)
				}
				if n := strings.Count(string(out), "/nix through"); n != 1 {
					t.Errorf("strategy logged %d times:\n%s", n, out)
				}
			})
		}
	}
}

func TestLauncherForwardsSIGTERM(t *testing.T) {
	nixDir := testStore(t)
	for _, strategy := range strategies(t) {
		t.Run(strategy, func(t *testing.T) {
			cmd := launcher(t, nixDir, strategy, worker("term.sh"))
			if strategy == "native" {
				asNative(cmd, nixDir)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewScanner(stdout)
			if !lines.Scan() || lines.Text() != "ready" {
				_ = cmd.Process.Kill()
				t.Fatalf("worker did not start: %q\n%s", lines.Text(), stderr.String())
			}
			// native runs under unshare: signal the launcher it execs.
			target := cmd.Process.Pid
			_ = cmd.Process.Signal(syscall.SIGTERM)
			if strategy == "native" {
				_ = syscall.Kill(target, syscall.SIGTERM)
			}
			rest, _ := io.ReadAll(stdout)
			err = cmd.Wait()
			if got := shellStatus(cmd, err); got != 42 || !strings.Contains(string(rest), "got TERM") {
				t.Fatalf("status %d and output %q, want 42 and \"got TERM\"\n%s", got, rest, stderr.String())
			}
		})
	}
}

func TestLauncherLeavesStdioAlone(t *testing.T) {
	nixDir := testStore(t)
	for _, strategy := range strategies(t) {
		t.Run(strategy, func(t *testing.T) {
			cmd := launcher(t, nixDir, strategy, worker("fds.sh"))
			if strategy == "native" {
				asNative(cmd, nixDir)
			}
			inR, inW, _ := os.Pipe()
			outR, outW, _ := os.Pipe()
			defer inR.Close()
			defer outR.Close()
			cmd.Stdin, cmd.Stdout = inR, outW
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			outW.Close()
			fmt.Fprint(inW, "hello\n")
			inW.Close()
			out, _ := io.ReadAll(outR)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			want := fmt.Sprintf("stdin=pipe:[%d] stdout=pipe:[%d]\nHELLO\n", inode(t, inR), inode(t, outR))
			if string(out) != want {
				t.Fatalf("worker saw %q, want %q (the launcher's own pipes)", out, want)
			}
		})
	}
}

func inode(t *testing.T, f *os.File) uint64 {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestLauncherAsPID1 runs the launcher as PID 1 of a new PID namespace, as
// in a container: it must reap orphans and pass SIGTERM on.
func TestLauncherAsPID1(t *testing.T) {
	nixDir := testStore(t)
	for _, strategy := range strategies(t) {
		t.Run(strategy, func(t *testing.T) {
			cmd := launcher(t, nixDir, strategy, worker("pid1.sh"))
			mount := `exec "$@"`
			if strategy == "native" {
				mount = `mount --bind "$0" /nix && exec "$@"`
			}
			cmd.Args = append([]string{"unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--mount-proc", "--",
				"/bin/sh", "-c", mount, nixDir}, cmd.Args...)
			cmd.Path = "/usr/bin/unshare"
			out, err := cmd.CombinedOutput()
			got := shellStatus(cmd, err)
			if got != 42 || !strings.Contains(string(out), "zombies=0") || !strings.Contains(string(out), "got TERM") {
				t.Fatalf("status %d, want 42, no zombies and the TERM passed on:\n%s", got, out)
			}
		})
	}
}

func TestLauncherRefusesWhatItCannotDo(t *testing.T) {
	nixDir := testStore(t)
	cases := []struct {
		strategy string
		want     int
		msgs     []string
	}{
		{"native", 126, []string{"unable to make " + nixDir + " visible at /nix", "native:", "fix one of:", "/nix -> " + nixDir}},
		{"chroot", 2, []string{`NIXBP_STRATEGY="chroot": unknown /nix strategy "chroot"`, "expected one of auto, native"}},
	}
	for _, c := range cases {
		cmd := launcher(t, nixDir, c.strategy, worker("exit.sh", "0"))
		out, err := cmd.CombinedOutput()
		if got := shellStatus(cmd, err); got != c.want {
			t.Errorf("%s: status %d, want %d\n%s", c.strategy, got, c.want, out)
		}
		for _, m := range c.msgs {
			if !strings.Contains(string(out), m) {
				t.Errorf("%s: output lacks %q:\n%s", c.strategy, m, out)
			}
		}
	}
}

// TestLauncherUnderProotStartsReliably starts a trivial worker through
// proot many times: proot 5.1 used to crash now and then (about 1 in 150)
// before the worker ran when a Go process exec'd it under a traced parent.
func TestLauncherUnderProotStartsReliably(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	if _, err := exec.LookPath("proot"); err != nil {
		testenv.Missing(t, "proot is not installed")
	}
	nixDir := testStore(t)
	for i := 0; i < 150; i++ {
		cmd := launcher(t, nixDir, "proot", bbPath+"/bin/busybox true")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("start %d: %v\n%s", i, err, out)
		}
	}
}
