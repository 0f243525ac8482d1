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

// supervision says how supervise treats its child.
type supervision struct {
	// throughProot: the child is proot, which neither passes signals to
	// the program it traces nor reports how that program ended (it exits
	// with the status of whichever traced process ends last, 255 for a
	// signal): signals go to proot's children, and the status comes from
	// the launcher inside, on a pipe.
	throughProot bool
	// mayDie: die of the signal that killed the child, rather than exit
	// 128+n (off inside proot, which would hide it).
	mayDie bool
}

// relaunch is the launcher re-run through the view, marked as inside it.
func relaunch(view nixmount.View, args []string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := view.Command(self, args...)
	cmd.Env = append(os.Environ(), inViewEnv+"="+string(view.Strategy))
	return cmd, nil
}

// workerCommand is the worker as a child of the launcher inside proot: a
// simple command is started directly; anything else (an interpreted line,
// the static server) through the launcher re-run. (A Go process that execs
// the worker while its traced parent waits makes proot 5.1 crash now and
// then, before the worker runs; a direct start does not.) A schedule also
// goes through the launcher re-run. A failure is
// reported and returned as an exit status.
func workerCommand(inv Invocation, args []string) (*exec.Cmd, int) {
	argv, simple, err := SimpleCommand(inv.Command)
	if inv.Static == "" && inv.Cron == "" && err == nil && simple {
		path, err := lookPath(argv[0])
		if err != nil {
			fmt.Fprintf(os.Stderr, "nixbp-launch: %s: not found on PATH (%s)\n", argv[0], os.Getenv("PATH"))
			return nil, 127
		}
		return &exec.Cmd{Path: path, Args: argv}, 0
	}
	cmd, err := relaunch(nixmount.View{Strategy: nixmount.Native}, args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
		return nil, 126
	}
	cmd.Env = append(cmd.Env, inViewEnv+"="+prootWorker) // the last value counts
	return cmd, 0
}

// supervise starts cmd as the launcher's only child and stays as its
// parent: every signal it gets is passed on, the child's exit status
// becomes its own, and, as PID 1 of a container, it reaps the orphans the
// kernel hands it. Standard input, output and error are the launcher's own
// file descriptors, passed down unchanged.
func supervise(cmd *exec.Cmd, how supervision) int {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	var status *os.File
	if how.throughProot {
		r, w, err := os.Pipe()
		if err != nil {
			fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
			return 126
		}
		status = r
		cmd.ExtraFiles = []*os.File{w} // statusFD in the child
		defer r.Close()
		defer w.Close()
	}
	signals := make(chan os.Signal, 32)
	signal.Notify(signals)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: unable to start %s: %v\n", cmd.Path, err)
		return 126
	}
	if status != nil {
		cmd.ExtraFiles[0].Close()
	}
	go forward(signals, cmd.Process, how.throughProot)
	ws := wait(cmd)
	if code, ok := reported(status); ok {
		return code
	}
	if ws.Signaled() {
		if how.mayDie {
			return dieLike(ws.Signal())
		}
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// forward passes each signal on to the child, or under proot to proot's
// own children (the traced launcher, or the worker).
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

// statusFD is where the launcher inside proot reports the worker's status.
const statusFD = 3

// reported reads the status the launcher inside proot wrote to the pipe.
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
