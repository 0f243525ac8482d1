package nixmount

import (
	"os"
	"os/exec"
	"syscall"
)

// Capability numbers from linux/capability.h.
const (
	capSysChroot = 18
	capSysAdmin  = 21
)

// Command returns a command that runs name with args with NixDir at /nix.
// name is resolved inside the view (so /nix/store/... paths work).
func (v View) Command(name string, args ...string) *exec.Cmd {
	switch v.Strategy {
	case UserNS:
		mode := modeAuto
		if v.NewRoot {
			mode = modeNewRoot
		}
		argv := append([]string{v.self(), childArg, v.NixDir, mode, "--", name}, args...)
		cmd := &exec.Cmd{Path: v.self(), Args: argv}
		uid, gid := os.Getuid(), os.Getgid()
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}},
			GidMappingsEnableSetgroups: false,
			// The child keeps its own uid, so execve would drop the
			// namespace's capabilities; ambient ones survive it. The child
			// clears them again before it runs the target.
			AmbientCaps: []uintptr{capSysAdmin, capSysChroot},
			// The program dies with the process that started it.
			Pdeathsig: syscall.SIGKILL,
		}
		return cmd
	case PRoot:
		wd, _ := os.Getwd()
		argv := append([]string{"-b", v.NixDir + ":/nix", "-w", wd, name}, args...)
		cmd := exec.Command(v.PRootPath, argv...)
		// proot needs no extra environment; PROOT_NO_SECCOMP stays the user's choice.
		return cmd
	default:
		return exec.Command(name, args...)
	}
}
