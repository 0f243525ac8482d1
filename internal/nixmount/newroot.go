package nixmount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Ways the namespace child enters its new root, as it reports them to the
// probe (see View.NewRootEntry).
const (
	enteredByPivotRoot = "pivot_root"
	enteredByChroot    = "chroot"
)

// newRootWithNix builds a new root on a tmpfs holding every entry of / (bind
// mounts, and symlinks as symlinks) plus nix bound to nixDir, and enters it:
// the nix-user-chroot technique, for images whose / has no /nix. It enters
// by pivot_root, so that the programs can make user namespaces of their own
// (Nix's sandbox does; the kernel refuses them to a chrooted process), and
// by chroot only where pivot_root is refused (an initramfs root). It says
// which, and why pivot_root was refused.
func newRootWithNix(nixDir string) (entered string, err error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("unable to read the working directory\n%w", err)
	}
	root, err := rootMountpoint()
	if err != nil {
		return "", err
	}
	if err := buildRoot(root, nixDir); err != nil {
		return "", err
	}
	if err := os.Chdir(root); err != nil {
		return "", fmt.Errorf("unable to enter %s\n%w", root, err)
	}
	// pivot_root(".", ".") stacks the old root on the new one (a mount
	// point: the tmpfs); unmounting "." then takes the old one off.
	entered = enteredByPivotRoot
	if perr := syscall.PivotRoot(".", "."); perr != nil {
		if err := syscall.Chroot("."); err != nil {
			return "", fmt.Errorf("unable to enter the new root (pivot_root: %v)\n%w", perr, err)
		}
		entered = fmt.Sprintf("%s (pivot_root was refused: %v)", enteredByChroot, perr)
	} else if err := syscall.Unmount(".", syscall.MNT_DETACH); err != nil {
		return "", fmt.Errorf("unable to detach the old root after pivot_root\n%w", err)
	}
	if err := os.Chdir(wd); err != nil {
		return entered, os.Chdir("/")
	}
	return entered, nil
}

// buildRoot mounts a tmpfs on root holding every entry of / but nix, and
// nix bound to nixDir.
func buildRoot(root, nixDir string) error {
	if err := syscall.Mount("tmpfs", root, "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("unable to mount a tmpfs on %s\n%w", root, err)
	}
	entries, err := os.ReadDir("/")
	if err != nil {
		return fmt.Errorf("unable to list /\n%w", err)
	}
	for _, e := range entries {
		if e.Name() == "nix" {
			continue
		}
		if err := mirrorEntry(root, e); err != nil {
			return err
		}
	}
	if err := os.Mkdir(filepath.Join(root, "nix"), 0o755); err != nil {
		return fmt.Errorf("unable to make /nix in the new root\n%w", err)
	}
	if err := syscall.Mount(nixDir, filepath.Join(root, "nix"), "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("unable to bind %s on /nix in the new root\n%w", nixDir, err)
	}
	return nil
}

// mirrorEntry reproduces one entry of / under root.
func mirrorEntry(root string, e os.DirEntry) error {
	src, dst := "/"+e.Name(), filepath.Join(root, e.Name())
	fi, err := os.Lstat(src)
	if err != nil {
		return nil // vanished meanwhile
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return fmt.Errorf("unable to read link %s\n%w", src, err)
		}
		return os.Symlink(target, dst)
	case fi.IsDir():
		if err := os.Mkdir(dst, 0o755); err != nil {
			return fmt.Errorf("unable to make %s\n%w", dst, err)
		}
	default:
		f, err := os.Create(dst)
		if err != nil {
			return fmt.Errorf("unable to make %s\n%w", dst, err)
		}
		f.Close()
	}
	if err := syscall.Mount(src, dst, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("unable to bind %s into the new root\n%w", src, err)
	}
	return nil
}

// rootMountpoint finds or makes an empty directory to hold the new root.
// Only the empty directory stays on the host; the tmpfs is in our namespace.
func rootMountpoint() (string, error) {
	name := fmt.Sprintf(".nixbp-root-%d", os.Getuid())
	var errs []error
	for _, dir := range []string{os.Getenv("TMPDIR"), "/tmp", "/dev/shm", "/var/tmp", os.Getenv("HOME")} {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			errs = append(errs, err)
			continue
		}
		return p, nil
	}
	return "", fmt.Errorf("unable to make a directory for the new root\n%w", errors.Join(errs...))
}
