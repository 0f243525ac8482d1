package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompExecArg makes a test binary a helper that installs a seccomp
// filter like Docker's default profile and execs the rest of its arguments.
const seccompExecArg = "testenv-seccomp-exec"

// MaybeSeccompExec runs the seccomp helper when UnderSeccomp started this
// test binary as one; a TestMain calls it first.
func MaybeSeccompExec() {
	if len(os.Args) > 3 && os.Args[1] == seccompExecArg {
		err := seccompExec(os.Args[2] == "ptrace-too", os.Args[3:])
		fmt.Fprintln(os.Stderr, err)
		os.Exit(99)
	}
}

// UnderSeccomp wraps cmd to run under a filter like Docker's default
// profile for an unprivileged container: unshare and clone with
// CLONE_NEWUSER fail with EPERM, clone3 with ENOSYS (so that libraries
// fall back to clone); with ptraceToo ptrace fails too, as on a Heroku
// dyno. It stands in for a container because the tests must not depend on
// Docker; e2e/docker checks the real one. The test binary must call
// MaybeSeccompExec in TestMain.
func UnderSeccomp(cmd *exec.Cmd, ptraceToo bool) {
	mode := "ptrace-allowed"
	if ptraceToo {
		mode = "ptrace-too"
	}
	self, _ := os.Executable()
	cmd.Args = append([]string{self, seccompExecArg, mode}, cmd.Args...)
	cmd.Path = self
}

func seccompExec(ptraceToo bool, argv []string) error {
	const (
		ldNr    = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq     = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jset    = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret     = unix.BPF_RET | unix.BPF_K
		allow   = unix.SECCOMP_RET_ALLOW
		eperm   = unix.SECCOMP_RET_ERRNO | uint32(syscall.EPERM)
		enosys  = unix.SECCOMP_RET_ERRNO | uint32(syscall.ENOSYS)
		archOff = 4
		arg0Off = 16 // low 32 bits of args[0], little-endian
	)
	ptraceNr := uint32(unix.SYS_PTRACE)
	if !ptraceToo {
		ptraceNr = 0xffffffff
	}
	prog := []unix.SockFilter{
		{Code: ldNr, K: archOff},
		{Code: jeq, K: unix.AUDIT_ARCH_X86_64, Jt: 1},
		{Code: ret, K: allow},
		{Code: ldNr, K: 0},
		{Code: jeq, K: unix.SYS_UNSHARE, Jt: 6},
		{Code: jeq, K: ptraceNr, Jt: 5},
		{Code: jeq, K: unix.SYS_CLONE3, Jt: 5},
		{Code: jeq, K: unix.SYS_CLONE, Jf: 2},
		{Code: ldNr, K: arg0Off},
		{Code: jset, K: unix.CLONE_NEWUSER, Jt: 1},
		{Code: ret, K: allow},
		{Code: ret, K: eperm},
		{Code: ret, K: enosys},
	}
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("PR_SET_NO_NEW_PRIVS: %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
		return fmt.Errorf("PR_SET_SECCOMP: %w", err)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	return syscall.Exec(path, argv, os.Environ())
}
