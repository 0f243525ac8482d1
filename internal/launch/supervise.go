package launch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
)

// supervise re-runs the launcher through the view as its only child and
// stays as its parent: every signal it gets is passed on, the child's exit
// status becomes its own, and, as PID 1 of a container, it reaps the
// orphans the kernel hands it. Standard input, output and error are the
// launcher's own file descriptors, passed down unchanged. A child killed by
// a signal makes the launcher die of the same signal when mayDie is set
// and it is not PID 1; otherwise the launcher exits with 128+n.
func supervise(view nixmount.View, args []string, mayDie bool) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
		return 126
	}
	cmd := view.Command(self, args...)
	cmd.Env = append(os.Environ(), inViewEnv+"="+string(view.Strategy))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	var status *os.File
	if view.Strategy == nixmount.PRoot {
		r, w, err := os.Pipe()
		if err != nil {
			fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
			return 126
		}
		status = r
		cmd.ExtraFiles = []*os.File{w}
		defer r.Close()
		defer w.Close()
	}
	signals := make(chan os.Signal, 32)
	signal.Notify(signals)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: unable to start through %s: %v\n", view.Strategy, err)
		return 126
	}
	if status != nil {
		cmd.ExtraFiles[0].Close()
	}
	go forward(signals, cmd.Process, view.Strategy == nixmount.PRoot)
	ws := wait(cmd)
	if code, ok := reported(status); ok {
		return code
	}
	if ws.Signaled() {
		if mayDie {
			return dieLike(ws.Signal())
		}
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// forward passes each signal on to the child. proot neither passes signals
// to the program it traces nor dies of the usual ones, so under proot they
// go to proot's own children, the traced launcher, instead.
func forward(signals <-chan os.Signal, child *os.Process, toGrandchildren bool) {
	for s := range signals {
		// SIGCHLD is ours; SIGURG is the Go runtime's preemption.
		if s == syscall.SIGCHLD || s == syscall.SIGURG {
			continue
		}
		if !toGrandchildren {
			_ = child.Signal(s)
			continue
		}
		for _, pid := range childrenOf(child.Pid) {
			_ = syscall.Kill(pid, s.(syscall.Signal))
		}
	}
}

// wait waits for the child; as PID 1 it also reaps every other process that
// was orphaned into it.
func wait(cmd *exec.Cmd) syscall.WaitStatus {
	if os.Getpid() != 1 {
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			return ws
		}
		return syscall.WaitStatus(1 << 8)
	}
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return syscall.WaitStatus(1 << 8)
		}
		if pid == cmd.Process.Pid && (ws.Exited() || ws.Signaled()) {
			return ws
		}
	}
}

// dieLike ends the launcher the way its child ended, killed by sig, so
// that a shell or supervisor above sees the signal. PID 1 cannot be killed
// by its own signals; it (and any launcher the signal does not kill)
// returns 128+sig, the shell's and Docker's convention.
func dieLike(sig syscall.Signal) int {
	if os.Getpid() != 1 && sig != syscall.SIGKILL && sig != syscall.SIGSTOP {
		signal.Reset(sig)
		_ = syscall.Kill(os.Getpid(), sig)
	}
	return 128 + int(sig)
}

// statusFD is where a launcher supervising from inside proot reports the
// worker's status: proot 5.1 exits 0 for a tracee killed by a signal, and
// now and then crashes on its way out, so its own status is not the app's.
const statusFD = 3

// reported reads the status a launcher inside proot wrote to the pipe.
func reported(r *os.File) (int, bool) {
	if r == nil {
		return 0, false
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return 0, false
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(data)))
	return code, err == nil
}

// report writes the worker's status for the launcher outside proot, and
// returns it.
func report(code int) int {
	f := os.NewFile(statusFD, "status")
	fmt.Fprintf(f, "%d\n", code)
	f.Close()
	return code
}
