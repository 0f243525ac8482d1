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
	switch {
	case v.namespaced():
		mode := modeAuto
		switch {
		case v.Strategy == Native:
			mode = modeNative
		case v.NewRoot:
			mode = modeNewRoot
		}
		argv := append(append(append([]string{v.self(), childArg, v.NixDir, mode}, v.childOptions()...), "--", name), args...)
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
		if v.Seal.PrivateProc {
			// A /proc of its own shows only the program's processes.
			cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWPID
		}
		return cmd
	case v.Strategy == PRoot:
		wd, _ := os.Getwd()
		argv := append(append(append([]string{"-b", v.NixDir + ":/nix"}, v.prootBindings()...), "-w", wd, name), args...)
		cmd := exec.Command(v.PRootPath, argv...)
		// proot needs no extra environment; PROOT_NO_SECCOMP stays the user's choice.
		return cmd
	default:
		return exec.Command(name, args...)
	}
}
