package nixmount

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

const (
	prCapAmbient         = 47 // PR_CAP_AMBIENT
	prCapAmbientClearAll = 4  // PR_CAP_AMBIENT_CLEAR_ALL
)

// dropAmbientCaps clears the ambient capabilities this child was started
// with, so the program it runs has none.
func dropAmbientCaps() error {
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRCTL, prCapAmbient, prCapAmbientClearAll, 0, 0, 0, 0); errno != 0 {
		return fmt.Errorf("unable to drop ambient capabilities\n%w", errno)
	}
	return nil
}

const (
	childArg    = "__nixmount-child"
	probeArg    = "__nixmount-probe"
	modeAuto    = "auto"
	modeNewRoot = "newroot"
	// modeNative leaves /nix as it is: the namespace only hides paths.
	modeNative = "native"
	// childFailed is the exit status of a namespace child that could not
	// set up /nix; the message is on its stderr.
	childFailed = 125
	// rootOpt is the probe's option (and its report on stdout) saying how
	// the child entered its new root.
	rootOpt = "new-root-entered-by="
)

// MaybeRunChild must be the first call in the main function of every binary
// that runs programs through a View: when the process is a child started by
// View.Command or a probe, it does the child's work and never returns.
func MaybeRunChild() {
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case ptraceProbeArg:
		os.Exit(0)
	case probeArg:
		if fi, err := os.Stat("/nix/store"); err != nil || !fi.IsDir() {
			fmt.Fprintln(os.Stderr, "/nix/store is not visible in the child")
			os.Exit(childFailed)
		}
		var sealed []string
		for _, a := range os.Args[2:] {
			if entered, ok := strings.CutPrefix(a, rootOpt); ok {
				fmt.Println(rootOpt + entered)
				continue
			}
			sealed = append(sealed, a)
		}
		if err := checkSealed(sealed); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(childFailed)
		}
		os.Exit(0)
	case childArg:
		if err := runChild(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "nixmount: %v\n", err)
			os.Exit(childFailed)
		}
	}
}

// runChild is the namespace child: args are NIXDIR MODE [OPTION...] --
// NAME ARGS..., the options hide=PATH (an empty directory or file from
// empty=DIR bound over PATH) and proc (a /proc of its own: the child was
// started in a new PID namespace).
func runChild(args []string) error {
	sep := -1
	for i, a := range args {
		if a == "--" {
			sep = i
			break
		}
	}
	if len(args) < 2 || sep < 2 || sep == len(args)-1 {
		return errors.New("usage: __nixmount-child NIXDIR MODE [hide=PATH... empty=DIR proc] -- NAME [ARGS...]")
	}
	nixDir, mode, opts, argv := args[0], args[1], args[2:sep], args[sep+1:]
	// Capabilities are per thread: mount, drop and exec on one thread.
	runtime.LockOSThread()
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("unable to make / private in the mount namespace\n%w", err)
	}
	if mode != modeNative {
		entered, err := mountNix(nixDir, mode == modeNewRoot)
		if err != nil {
			return err
		}
		if entered != "" && len(argv) > 1 && argv[1] == probeArg {
			// The probe reports it to Open (View.NewRootEntry).
			argv = append(argv, rootOpt+entered)
		}
	}
	if err := hide(opts); err != nil {
		return err
	}
	path := argv[0]
	if filepath.Base(path) == path {
		found, err := exec.LookPath(path)
		if err != nil {
			return fmt.Errorf("unable to find %s on PATH inside the namespace\n%w", path, err)
		}
		path = found
	}
	if err := dropAmbientCaps(); err != nil {
		return err
	}
	return syscall.Exec(path, argv, os.Environ())
}

// mountNix shows nixDir at /nix in this (new, private) mount namespace,
// and says how it entered a new root when it made one.
func mountNix(nixDir string, newRoot bool) (entered string, err error) {
	if fi, err := os.Stat("/nix"); err == nil && fi.IsDir() && !newRoot {
		if err := syscall.Mount(nixDir, "/nix", "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return "", fmt.Errorf("unable to bind %s on /nix\n%w", nixDir, err)
		}
		return "", nil
	}
	return newRootWithNix(nixDir)
}
