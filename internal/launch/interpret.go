package launch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// passedSignals are the signals the launcher passes on to every process of
// an interpreted worker: the ones a platform, a supervisor or a user sends.
var passedSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// stopsLine reports whether sig ends a shell that does not trap it: the
// interpreted line then runs no further command.
func stopsLine(sig syscall.Signal) bool {
	return sig == syscall.SIGTERM || sig == syscall.SIGINT || sig == syscall.SIGHUP || sig == syscall.SIGQUIT
}

// interpret runs a command line that is more than a simple command with a
// POSIX shell interpreter written in Go (run images may have no /bin/sh).
//
// The launcher stands where the shell would, so a signal meant for the
// worker must reach each process of it: every command the line starts
// leads a process group of its own, and each signal in passedSignals goes
// to all of those groups (so what the commands start gets it too). A
// signal that ends a shell also stops the line: no further command starts,
// and the status is that of the last command to end (128+n if the signal
// killed it), as `exec server` would give.
func interpret(line string, underProot bool) int {
	f, err := syntax.NewParser().Parse(strings.NewReader(line), "worker")
	if err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
		return 2
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	w := &lineProcesses{terminal: sharesTerminal(), underProot: underProot, running: map[int]bool{}, stop: stop}
	signals := make(chan os.Signal, 32)
	signal.Notify(signals, passedSignals...)
	defer signal.Stop(signals)
	go func() {
		for s := range signals {
			w.pass(s.(syscall.Signal))
		}
	}()
	r, err := interp.New(interp.Env(expand.ListEnviron(os.Environ()...)),
		interp.StdIO(os.Stdin, os.Stdout, os.Stderr), interp.ExecHandlers(w.exec))
	if err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
		return 2
	}
	err = r.Run(ctx, f)
	var status interp.ExitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &status):
		return int(status)
	case errors.Is(err, context.Canceled):
		return w.stoppedStatus()
	}
	fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
	return 1
}

// lineProcesses are the running commands of an interpreted line.
type lineProcesses struct {
	// terminal: the launcher runs in the foreground of its terminal. The
	// commands then stay in its process group, so that they may read the
	// terminal and the terminal's ^C and ^\ reach each of them (and are
	// not passed on a second time).
	terminal bool
	stop     context.CancelFunc // runs no further command of the line
	// underProot: each command must have started before the next one
	// starts (see startedUnderProot).
	underProot bool
	mu         sync.Mutex
	running    map[int]bool   // pids of running commands
	stopped    syscall.Signal // the signal that stopped the line, 0 if none
	ended      int            // status of the last command that ended after it, -1 if none
}

// pass sends sig to every running command's process group, and stops the
// line if sig ends a shell.
func (w *lineProcesses) pass(sig syscall.Signal) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if stopsLine(sig) {
		w.stopLine(sig)
	}
	if w.terminal && fromTerminal(sig) {
		return
	}
	for pid := range w.running {
		if w.terminal {
			_ = syscall.Kill(pid, sig)
		} else {
			_ = syscall.Kill(-pid, sig)
		}
	}
}

// stopLine records that sig stopped the line (the first such signal
// counts) and stops it. The caller holds w.mu.
func (w *lineProcesses) stopLine(sig syscall.Signal) {
	if w.stopped == 0 {
		w.stopped, w.ended = sig, -1
		w.stop()
	}
}

// fromTerminal reports whether sig is one a terminal sends its foreground
// process group (^C, ^\).
func fromTerminal(sig syscall.Signal) bool {
	return sig == syscall.SIGINT || sig == syscall.SIGQUIT
}

// stoppedStatus is the line's status once a signal stopped it.
func (w *lineProcesses) stoppedStatus() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended >= 0 {
		return w.ended
	}
	return 128 + int(w.stopped)
}

// exec is the interpreter's handler for a program: it starts it as a
// command of the line (none once the line is stopped) and waits for it.
func (w *lineProcesses) exec(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(ctx context.Context, args []string) error {
		hc := interp.HandlerCtx(ctx)
		path, err := interp.LookPathDir(hc.Dir, hc.Env, args[0])
		if err != nil {
			fmt.Fprintln(hc.Stderr, err)
			return interp.ExitStatus(127)
		}
		cmd := &exec.Cmd{Path: path, Args: args, Env: environ(hc.Env), Dir: hc.Dir,
			Stdin: hc.Stdin, Stdout: hc.Stdout, Stderr: hc.Stderr,
			SysProcAttr: &syscall.SysProcAttr{Setpgid: !w.terminal}}
		w.mu.Lock()
		if w.stopped != 0 {
			w.mu.Unlock()
			return interp.ExitStatus(128 + int(w.stopped))
		}
		err = cmd.Start()
		if err == nil {
			w.running[cmd.Process.Pid] = true
			if w.underProot {
				startedUnderProot(cmd.Process.Pid)
			}
		}
		w.mu.Unlock()
		if errors.Is(err, syscall.ENOEXEC) {
			// A script without #! line: the interpreter's own handler runs
			// it with a new interpreter, as shells do.
			return next(ctx, args)
		}
		if err != nil {
			fmt.Fprintf(hc.Stderr, "%v\n", err)
			return interp.ExitStatus(127)
		}
		_ = cmd.Wait()
		status, killedBy := 1, syscall.Signal(0)
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			status = ws.ExitStatus()
			if ws.Signaled() {
				status, killedBy = 128+int(ws.Signal()), ws.Signal()
			}
		}
		w.mu.Lock()
		if w.terminal && fromTerminal(killedBy) {
			// The terminal signalled the launcher too, but the command may
			// end before the launcher's copy is handled.
			w.stopLine(killedBy)
		}
		delete(w.running, cmd.Process.Pid)
		if w.stopped != 0 {
			w.ended = status
		}
		w.mu.Unlock()
		if status == 0 {
			return nil
		}
		return interp.ExitStatus(uint8(status))
	}
}

// environ is the environment a program gets: the exported variables. An
// overlay environment lists a name again when the line sets or unsets it;
// the last word counts.
func environ(env expand.Environ) []string {
	var list []string
	at := map[string]int{}
	for name, vr := range env.Each {
		kv := ""
		if vr.IsSet() && vr.Exported && vr.Kind == expand.String {
			kv = name + "=" + vr.String()
		}
		if i, ok := at[name]; ok {
			list[i] = kv
			continue
		}
		at[name] = len(list)
		list = append(list, kv)
	}
	kept := list[:0]
	for _, kv := range list {
		if kv != "" {
			kept = append(kept, kv)
		}
	}
	return kept
}

// sharesTerminal reports whether standard input is a terminal whose
// foreground process group is the launcher's.
func sharesTerminal() bool {
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && fg == syscall.Getpgrp()
}

// startedUnderProot waits until proot's loader has handed over to the
// program started as pid, for at most a second: the loader, named
// prooted-..., renames the process after the program when it jumps to it.
// proot 5.1 now and then corrupts a program that is still starting when the
// launcher (a Go process, whose fork shares its memory until exec) starts
// another: 12 of 200 pipelines lost a command that way, 2 of 400 with this
// wait (a proot defect this narrows, not fixes).
func startedUnderProot(pid int) {
	comm := fmt.Sprintf("/proc/%d/comm", pid)
	for i := 0; i < 1000; i++ {
		name, err := os.ReadFile(comm)
		if err != nil || !strings.HasPrefix(string(name), "prooted-") {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
