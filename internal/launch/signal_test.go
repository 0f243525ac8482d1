package launch_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLauncherSignalsEveryProcess runs interpreted workers (a list and a
// pipe, whose commands the launcher's shell interpreter starts as its
// children) under every strategy, sends the launcher SIGTERM or SIGINT, and
// checks that the signal reached the worker's processes (no sleep outlives
// the launcher), that the line stopped there (no "after"), and that the
// launcher exited with the worker's status (128+n: sleep died of it).
func TestLauncherSignalsEveryProcess(t *testing.T) {
	nixDir := testStore(t)
	busybox := bbPath + "/bin/busybox"
	lines := []struct{ name, line string }{
		{"list", busybox + " sleep %d; echo after"},
		{"pipe", busybox + " sleep %d | " + busybox + " cat; echo after"},
	}
	slugNix, prefix := relocatedSlug(t)
	for _, strategy := range append(strategies(t), "relocate") {
		for _, l := range lines {
			for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
				t.Run(fmt.Sprintf("%s/%s/%s", strategy, l.name, sig), func(t *testing.T) {
					var (
						secs, sleep int
						cmd         *exec.Cmd
						out         *lockedBuffer
						done        chan error
					)
					for attempt := 1; ; attempt++ {
						secs = uniqueSeconds()
						line := fmt.Sprintf(l.line, secs)
						switch strategy {
						case "relocate":
							cmd = launcher(t, slugNix, strategy, prefix.StorePath(line))
							underSeccomp(cmd, true) // the filter execs the launcher: cmd.Process is it
						case "native":
							cmd = launcher(t, nixDir, strategy, line)
							asNative(cmd, nixDir) // unshare execs: cmd.Process is the launcher
						default:
							cmd = launcher(t, nixDir, strategy, line)
						}
						out = &lockedBuffer{}
						cmd.Stdout, cmd.Stderr = out, out
						if err := cmd.Start(); err != nil {
							t.Fatal(err)
						}
						done = make(chan error, 1)
						go func() { done <- cmd.Wait() }()
						if sleep = findSleep(t, secs, done); sleep != 0 {
							break
						}
						// proot 5.1 now and then crashes a program the Go
						// interpreter starts while another one is starting
						// (a pipe): the sleep dies before it is signalled.
						// That defect is not this test's; start again.
						if strategy == "proot" && attempt < 3 && strings.Contains(out.String(), "after") {
							t.Logf("attempt %d: the sleep crashed under proot before the signal; again:\n%s", attempt, out.String())
							continue
						}
						_ = cmd.Process.Kill()
						<-done
						t.Fatalf("the worker's sleep %d never started:\n%s", secs, out.String())
					}
					t.Cleanup(func() { _ = syscall.Kill(sleep, syscall.SIGKILL) })
					_ = cmd.Process.Signal(sig)
					var err error
					select {
					case err = <-done:
						if running(sleep, secs) {
							t.Errorf("sleep %d (pid %d) outlived the launcher: %s did not reach it", secs, sleep, sig)
						}
					case <-time.After(time.Minute):
						// proot waits for every traced process, so a sleep
						// the signal missed holds the launcher too.
						t.Errorf("the launcher did not end within a minute of %s; sleep %d (pid %d) running: %v", sig, secs, sleep, running(sleep, secs))
						_ = syscall.Kill(sleep, syscall.SIGKILL)
						err = <-done
					}
					if got, want := shellStatus(cmd, err), 128+int(sig); got != want {
						t.Errorf("status %d, want %d (the worker's)", got, want)
					}
					if strings.Contains(out.String(), "after") {
						t.Errorf("the line went on after %s:\n%s", sig, out.String())
					}
					if t.Failed() {
						t.Logf("output:\n%s", out.String())
					}
				})
			}
		}
	}
}

var (
	secondsMu   sync.Mutex
	secondsNext = 30000 + rand.Intn(60000)
)

// uniqueSeconds is a sleep duration no other test process uses, so that the
// sleep can be found by its command line.
func uniqueSeconds() int {
	secondsMu.Lock()
	defer secondsMu.Unlock()
	secondsNext++
	return secondsNext
}

// findSleep waits for the process running "sleep secs" and returns its pid,
// or 0 if the launcher ended first (a value on ended, which is put back)
// or it did not appear within a minute (proot is slow to start).
func findSleep(t *testing.T, secs int, ended chan error) int {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-ended:
			ended <- err
			return 0
		default:
		}
		cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, c := range cmdlines {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(c)))
			if running(pid, secs) {
				return pid
			}
		}
	}
	return 0
}

// running reports whether pid is alive (not a zombie) and runs "sleep secs".
func running(pid, secs int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.HasSuffix(data, []byte(fmt.Sprintf("\x00sleep\x00%d\x00", secs))) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !bytes.Contains(stat[bytes.LastIndexByte(stat, ')'):], []byte(") Z "))
}

// TestLauncherInTerminal runs an interpreted worker from a terminal, as a
// user would by hand: its commands may read the terminal (they stay in its
// foreground process group), and ^C reaches each of them and stops the line.
func TestLauncherInTerminal(t *testing.T) {
	nixDir := testStore(t)
	busybox := bbPath + "/bin/busybox"
	for _, strategy := range strategies(t) {
		if strategy == "proot" {
			continue // proot starts the worker in a terminal the same way as userns
		}
		t.Run(strategy, func(t *testing.T) {
			secs := uniqueSeconds()
			line := fmt.Sprintf(`%s sh -c 'read x; echo "got $x"'; %s sleep %d; echo after`, busybox, busybox, secs)
			cmd := launcher(t, nixDir, strategy, line)
			if strategy == "native" {
				asNative(cmd, nixDir)
			}
			term, tty := openTerminal(t)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			tty.Close()
			var out lockedBuffer
			go func() { _, _ = io.Copy(&out, term) }()
			fmt.Fprint(term, "hello\n")
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			sleep := findSleep(t, secs, done)
			if sleep == 0 {
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("the worker did not read the terminal and go on to sleep %d:\n%s", secs, out.String())
			}
			t.Cleanup(func() { _ = syscall.Kill(sleep, syscall.SIGKILL) })
			fmt.Fprint(term, "\x03") // ^C: SIGINT to the terminal's foreground group
			err := <-done
			if running(sleep, secs) {
				t.Errorf("sleep %d (pid %d) outlived the launcher after ^C", secs, sleep)
			}
			if got := shellStatus(cmd, err); got != 130 {
				t.Errorf("status %d, want 130", got)
			}
			if o := out.String(); !strings.Contains(o, "got hello") || strings.Contains(o, "after") {
				t.Errorf("want the worker to read the terminal and stop at ^C, got:\n%s", o)
			}
		})
	}
}

// openTerminal opens a pseudo-terminal: the controlling side and the
// terminal a process is given.
func openTerminal(t *testing.T) (term, tty *os.File) {
	t.Helper()
	term, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { term.Close() })
	if err := unix.IoctlSetPointerInt(int(term.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(term.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return term, tty
}

// lockedBuffer is a buffer one goroutine writes while another reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
