package launch_test

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// seccompExecArg makes the test binary a helper that installs a seccomp
// filter like Docker's default profile and execs the rest of its arguments.
const seccompExecArg = "seccomp-exec"

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == seccompExecArg {
		if err := seccompExec(os.Args[2] == "ptrace-too", os.Args[3:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(99)
		}
	}
	os.Exit(m.Run())
}

// seccompExec refuses what Docker's default profile refuses an unprivileged
// container (unshare, clone with CLONE_NEWUSER; clone3 says ENOSYS so that
// libraries fall back to clone), and with ptraceToo also ptrace, then
// execs argv. It stands in for a container because the test must not
// depend on Docker; e2e/docker checks the real one.
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

// underSeccomp wraps cmd to run under the Docker-like filter.
func underSeccomp(cmd *exec.Cmd, ptraceToo bool) {
	mode := "ptrace-allowed"
	if ptraceToo {
		mode = "ptrace-too"
	}
	self, _ := os.Executable()
	cmd.Args = append([]string{self, seccompExecArg, mode}, cmd.Args...)
	cmd.Path = self
}

// TestLauncherUnderADockerLikeSeccompProfile: where user namespaces are
// refused, auto falls back to proot after checking ptrace, and says why;
// where ptrace is refused too, the error lists every attempt and the fixes.
func TestLauncherUnderADockerLikeSeccompProfile(t *testing.T) {
	nixDir := testStore(t)
	if _, err := exec.LookPath("proot"); err != nil {
		testenv.Missing(t, "proot is not installed")
	}

	cmd := launcher(t, nixDir, "auto", worker("exit.sh", "5"))
	underSeccomp(cmd, false)
	out, err := cmd.CombinedOutput()
	if got := shellStatus(cmd, err); got != 5 {
		t.Fatalf("status %d, want 5\n%s", got, out)
	}
	for _, want := range []string{"/nix through proot", "userns skipped: unprivileged user namespaces are refused here"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	cmd = launcher(t, nixDir, "auto", worker("exit.sh", "5"))
	underSeccomp(cmd, true)
	out, err = cmd.CombinedOutput()
	if got := shellStatus(cmd, err); got != 126 {
		t.Fatalf("status %d, want 126\n%s", got, out)
	}
	for _, want := range []string{"unable to make " + nixDir + " visible at /nix; tried:", "\n  native: ",
		"\n  userns: unprivileged user namespaces are refused here", "\n  proot: ptrace is refused here, so proot cannot run",
		"fix one of:", "/nix -> " + nixDir, "--security-opt seccomp="} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
