package nixmount

import (
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
)

// ptraceProbeArg runs the binary as a child that only exits, for ptraceUsable.
const ptraceProbeArg = "__nixmount-ptrace-probe"

// ptraceUsable checks, before proot is tried, that this process may trace a
// child the way proot does (PTRACE_TRACEME in the child, then the parent
// resumes it). Where a seccomp profile or Yama forbids ptrace, proot fails
// with messages that do not name the cause; this says it plainly.
func ptraceUsable(self string) error {
	// ptrace requests must come from the thread that started the tracee.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command(self, ptraceProbeArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("ptrace is refused here, so proot cannot run (a seccomp profile, or kernel.yama.ptrace_scope = 3)\n%w", err)
	}
	// The tracee stops with SIGTRAP at its exec; let it go and reap it.
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(cmd.Process.Pid, &ws, 0, nil); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("unable to wait for the ptrace probe\n%w", err)
	}
	if !ws.Stopped() {
		_ = cmd.Process.Release()
		return nil
	}
	if err := syscall.PtraceDetach(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("ptrace is refused here, so proot cannot run\n%w", err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("the ptrace probe failed\n%w", err)
	}
	return nil
}
