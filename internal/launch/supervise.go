package launch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
)

// runInView re-runs the launcher inside the view and stays as its parent:
// signals are passed on, the child's exit status becomes ours, and, when
// this process is PID 1, orphans are reaped.
func runInView(view nixmount.View, args []string) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
		return 126
	}
	cmd := view.Command(self, args...)
	cmd.Env = append(os.Environ(), inViewEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	signals := make(chan os.Signal, 16)
	signal.Notify(signals)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: unable to start through %s: %v\n", view.Strategy, err)
		return 126
	}
	go func() {
		for s := range signals {
			if s == syscall.SIGCHLD || s == syscall.SIGURG {
				continue
			}
			_ = cmd.Process.Signal(s)
		}
	}()
	return wait(cmd)
}

// wait waits for the child; as PID 1 it also reaps every other process that
// was orphaned into it.
func wait(cmd *exec.Cmd) int {
	if os.Getpid() != 1 {
		err := cmd.Wait()
		return exitStatus(cmd.ProcessState, err)
	}
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return 1
		}
		if pid == cmd.Process.Pid {
			if ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ws.ExitStatus()
		}
	}
}

func exitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		return 1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if ps.ExitCode() >= 0 {
		return ps.ExitCode()
	}
	if err != nil {
		return 1
	}
	return 0
}
