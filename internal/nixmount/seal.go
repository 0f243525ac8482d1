package nixmount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Hiding asks the view to hide paths (directories or files: the platform
// directory, the bindings, ENV_DIR, credential files) from the programs it
// runs: each shows as an empty directory or an empty file, bound over it in
// a mount namespace of their own (userns, and native where user namespaces
// work) or by proot. Paths that do not exist are left alone; a symlink's
// target is hidden too.
func Hiding(paths ...string) func(*View) {
	return func(v *View) { v.Hide = append(v.Hide, paths...) }
}

// Seal says what a view hides from the programs it runs, for the log.
type Seal struct {
	// Hidden are the paths shown empty.
	Hidden []string
	// Kept are paths asked for but not hidden, each with why (one holds
	// the store, the working directory or the buildpack).
	Kept []string
	// PrivateProc says that the programs run in a PID namespace with a
	// /proc of their own: no other process (the platform's, the
	// buildpack's) shows there. Under proot, the /proc entries of this
	// process's ancestors are hidden instead.
	PrivateProc bool
	// ProcErr says why /proc could not be made private.
	ProcErr error
	// Err says why nothing could be hidden (Hidden is then empty): /nix is
	// native and user namespaces are refused.
	Err error
}

// emptyDir holds the empty directory (dir) and file (file) bound over
// hidden paths, inside the Nix directory, which the buildpack owns.
func (v View) emptyDir() string { return filepath.Join(v.NixDir, "var", "nixbp", "empty") }

// seal puts Hide in effect after the strategy was chosen, probing that
// every path shows empty through it.
func (v *View) seal() {
	hide, kept := v.hideable()
	v.Seal.Kept = kept
	if len(hide) == 0 {
		return
	}
	if err := v.makeEmpty(); err != nil {
		v.Seal.Err = err
		return
	}
	v.Seal.Hidden = hide
	switch v.Strategy {
	case PRoot:
		v.Seal.PrivateProc = true
		if err := v.runProbe(); err != nil {
			v.Seal = Seal{Kept: kept, Err: err}
		}
		return
	case UserNS, Native:
		v.Seal.PrivateProc = true
		err := v.runProbe()
		if err == nil {
			return
		}
		v.Seal.PrivateProc = false
		if err2 := v.runProbe(); err2 != nil {
			if v.Strategy == Native {
				err2 = fmt.Errorf("/nix is native and no mount namespace can be made here: %w", err2)
			}
			v.Seal = Seal{Kept: kept, Err: err2}
			return
		}
		v.Seal.ProcErr = err
	}
}

// hideable resolves Hide: absolute, cleaned, symlinks' targets added, each
// once, without those that do not exist or that hold what the programs
// need.
func (v View) hideable() (hide, kept []string) {
	wd, _ := os.Getwd()
	needed := map[string]string{v.NixDir: "the Nix store", wd: "the working directory", filepath.Dir(v.self()): "the buildpack", os.TempDir(): "TMPDIR"}
	seen := map[string]bool{}
	add := func(p string) {
		p = filepath.Clean(p)
		if seen[p] || !filepath.IsAbs(p) {
			return
		}
		seen[p] = true
		if _, err := os.Lstat(p); err != nil {
			return
		}
		for n, what := range needed {
			if n != "" && (p == "/" || n == p || strings.HasPrefix(n, p+"/")) {
				kept = append(kept, fmt.Sprintf("%s (it holds %s, %s)", p, what, n))
				return
			}
		}
		hide = append(hide, p)
	}
	for _, p := range v.Hide {
		add(p)
		if real, err := filepath.EvalSymlinks(p); err == nil {
			add(real)
		}
	}
	return hide, kept
}

// makeEmpty makes the empty directory and file bound over hidden paths.
func (v View) makeEmpty() error {
	dir := v.emptyDir()
	if err := os.MkdirAll(filepath.Join(dir, "dir"), 0o755); err != nil {
		return fmt.Errorf("unable to create %s\n%w", dir, err)
	}
	f := filepath.Join(dir, "file")
	if err := os.WriteFile(f, nil, 0o444); err != nil && !errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("unable to create %s\n%w", f, err)
	}
	if fi, err := os.Stat(f); err != nil || fi.Size() != 0 {
		return fmt.Errorf("%s is not an empty file", f)
	}
	if entries, err := os.ReadDir(filepath.Join(dir, "dir")); err != nil || len(entries) != 0 {
		return fmt.Errorf("%s is not an empty directory", filepath.Join(dir, "dir"))
	}
	return os.Chmod(filepath.Join(dir, "dir"), 0o555)
}

// prootBindings are proot's -b options that hide the sealed paths, and the
// /proc entries of this process and its ancestors (the platform's
// processes: their environment, memory and root would show the secrets).
func (v View) prootBindings() []string {
	if len(v.Seal.Hidden) == 0 {
		return nil
	}
	var args []string
	for _, p := range v.Seal.Hidden {
		args = append(args, "-b", v.emptyFor(p)+":"+p)
	}
	for _, pid := range ancestors() {
		args = append(args, "-b", filepath.Join(v.emptyDir(), "dir")+":/proc/"+strconv.Itoa(pid))
	}
	return args
}

// emptyFor is the empty directory or file to bind over p.
func (v View) emptyFor(p string) string {
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		return filepath.Join(v.emptyDir(), "file")
	}
	return filepath.Join(v.emptyDir(), "dir")
}

// ancestors lists this process and its ancestors, up to (not including) 1.
func ancestors() []int {
	var pids []int
	for pid := os.Getpid(); pid > 1 && len(pids) < 64; {
		pids = append(pids, pid)
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			break
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		rest := string(data)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			break
		}
		ppid, err := strconv.Atoi(fields[1])
		if err != nil {
			break
		}
		pid = ppid
	}
	return pids
}

// childOptions are the namespace child's options that hide the sealed
// paths and give it a /proc of its own.
func (v View) childOptions() []string {
	var opts []string
	for _, p := range v.Seal.Hidden {
		opts = append(opts, "hide="+p)
	}
	if len(opts) > 0 {
		opts = append(opts, "empty="+v.emptyDir())
	}
	if v.Seal.PrivateProc {
		opts = append(opts, "proc")
	}
	return opts
}

// namespaced says whether programs run in the namespace child.
func (v View) namespaced() bool {
	return v.Strategy == UserNS || (v.Strategy == Native && len(v.Seal.Hidden) > 0)
}

// hide carries out the child's options: an empty directory or file bound
// read-only over each hidden path, then a /proc of its own.
func hide(opts []string) error {
	var paths []string
	empty, proc := "", false
	for _, o := range opts {
		switch k, val, _ := strings.Cut(o, "="); k {
		case "hide":
			paths = append(paths, val)
		case "empty":
			empty = val
		case "proc":
			proc = true
		default:
			return fmt.Errorf("unknown namespace child option %q", o)
		}
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			continue // vanished meanwhile: nothing to see
		}
		src := filepath.Join(empty, "dir")
		if !fi.IsDir() {
			src = filepath.Join(empty, "file")
		}
		if err := syscall.Mount(src, p, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("unable to hide %s (bind %s over it)\n%w", p, src, err)
		}
		if err := syscall.Mount("", p, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV, ""); err != nil {
			return fmt.Errorf("unable to make the empty %s read-only\n%w", p, err)
		}
	}
	if proc {
		if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("unable to mount a /proc of its own\n%w", err)
		}
	}
	return nil
}

// checkSealed is the probe's check of a sealed view: args are proc (this
// process must be alone in its /proc, as PID 1) and hidden=PATH (PATH must
// show empty).
func checkSealed(args []string) error {
	for _, a := range args {
		k, p, _ := strings.Cut(a, "=")
		switch k {
		case "proc":
			entries, err := os.ReadDir("/proc")
			if err != nil {
				return err
			}
			var pids []string
			for _, e := range entries {
				if _, err := strconv.Atoi(e.Name()); err == nil {
					pids = append(pids, e.Name())
				}
			}
			if os.Getpid() != 1 || len(pids) != 1 {
				return fmt.Errorf("/proc is not private: pid %d, /proc lists %d processes", os.Getpid(), len(pids))
			}
		case "hidden":
			fi, err := os.Stat(p)
			if err != nil {
				continue
			}
			if fi.IsDir() {
				if entries, err := os.ReadDir(p); err != nil || len(entries) > 0 {
					return fmt.Errorf("%s is not hidden: it lists %d entries (%v)", p, len(entries), err)
				}
			} else if fi.Size() != 0 {
				return fmt.Errorf("%s is not hidden: it holds %d bytes", p, fi.Size())
			}
		}
	}
	return nil
}
