// Package nixmount makes a Nix store directory visible at /nix for the
// programs the buildpack runs (nix-build at build time, the app at launch),
// without root. The strategies, cheapest first:
//
//   - native: /nix already is that directory (a symlink or mount made by the
//     image), so programs run untouched;
//   - userns: an unprivileged user and mount namespace in which the directory
//     is bind-mounted at /nix (or, where / has no /nix to mount over, a new
//     root holding every entry of / plus nix, the nix-user-chroot technique);
//   - proot: ptrace-based path translation (`proot -b DIR:/nix`), slow but
//     allowed where user namespaces are not.
package nixmount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Strategy names a way of making a directory visible at /nix.
type Strategy string

// The strategies, in the order Auto tries them.
const (
	Auto   Strategy = "auto"
	Native Strategy = "native"
	UserNS Strategy = "userns"
	PRoot  Strategy = "proot"
)

// Strategies lists the concrete strategies in the order Auto tries them.
var Strategies = []Strategy{Native, UserNS, PRoot}

// ParseStrategy reads a strategy name as a user writes it in a setting.
func ParseStrategy(s string) (Strategy, error) {
	switch st := Strategy(strings.ToLower(strings.TrimSpace(s))); st {
	case "":
		return Auto, nil
	case Auto, Native, UserNS, PRoot:
		return st, nil
	}
	return "", fmt.Errorf("unknown /nix strategy %q: expected one of auto, native, userns, proot", s)
}

// View runs programs with NixDir visible at /nix through one strategy.
type View struct {
	// Strategy is the strategy that was chosen.
	Strategy Strategy
	// NixDir is the on-disk directory (holding store/ and var/) shown at /nix.
	NixDir string
	// PRootPath is the proot binary, for the proot strategy: the image's,
	// or the buildpack's bundled one (FindPRoot).
	PRootPath string
	// PRootBundled says that PRootPath is the buildpack's bundled proot.
	PRootBundled bool
	// Self is the executable re-run as the namespace child: it must call
	// MaybeRunChild first thing in main. Empty means /proc/self/exe.
	Self string
	// NewRoot forces the new-root technique of the userns strategy even when
	// / has a /nix to mount over (tests use it to cover images without /nix).
	NewRoot bool
	// NewRootEntry says how the userns child entered the new root it made
	// where / has no /nix: "pivot_root", or "chroot (pivot_root was
	// refused: ...)", where the programs can make no user namespace (the
	// kernel refuses one to a chrooted process), so Nix has no sandbox.
	// Empty when /nix was bound over the image's.
	NewRootEntry string
	// Skipped says why Open passed over the cheaper strategies.
	Skipped []Attempt
	// Hide are paths the programs must not see (Hiding).
	Hide []string
	// Seal is what Open could hide of Hide.
	Seal Seal
}

// Attempt records why one strategy could not be used.
type Attempt struct {
	Strategy Strategy
	Err      error
}

// NoStrategyError says that no strategy could show the store at /nix.
type NoStrategyError struct {
	NixDir   string
	Attempts []Attempt
}

func (e *NoStrategyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "unable to make %s visible at /nix; tried:", e.NixDir)
	for _, a := range e.Attempts {
		fmt.Fprintf(&b, "\n  %s: %v", a.Strategy, a.Err)
	}
	fmt.Fprintf(&b, "\nfix one of:"+
		"\n  native: make /nix that directory in the image (a run image with the link /nix -> %s; see docs/native-nix-run-image.md)"+
		"\n  userns: allow unprivileged user namespaces (Docker refuses them under its default seccomp profile:"+
		" run with --security-opt seccomp=<a profile that permits unshare and clone with CLONE_NEWUSER>;"+
		" on the host, sysctl user.max_user_namespaces > 0 and kernel.unprivileged_userns_clone=1 where it exists)"+
		"\n  proot: allow ptrace (Docker's default profile allows it on Linux 4.8 and later);"+
		" the buildpack bundles a static proot for linux/amd64 and linux/arm64, elsewhere install proot in the image", e.NixDir)
	return b.String()
}

// Open chooses a strategy for nixDir: the wanted one, or with Auto the first
// that works. Each candidate is probed by running a trivial child through it.
func Open(nixDir string, want Strategy, opts ...func(*View)) (View, error) {
	candidates := Strategies
	if want != Auto && want != "" {
		candidates = []Strategy{want}
	}
	var attempts []Attempt
	for _, s := range candidates {
		v := View{Strategy: s, NixDir: nixDir}
		for _, o := range opts {
			o(&v)
		}
		err := v.probe()
		if err == nil {
			v.Skipped = attempts
			if len(v.Hide) > 0 {
				v.seal()
			}
			return v, nil
		}
		attempts = append(attempts, Attempt{Strategy: s, Err: err})
	}
	return View{}, &NoStrategyError{NixDir: nixDir, Attempts: attempts}
}

// WithNewRoot forces the new-root technique for the userns strategy.
func WithNewRoot(v *View) { v.NewRoot = true }

func (v *View) probe() error {
	switch v.Strategy {
	case Native:
		return nativeUsable(v.NixDir)
	case UserNS:
		return v.runProbe()
	case PRoot:
		if v.PRootPath == "" {
			p, bundled, err := FindPRoot(filepath.Dir(v.self()))
			if err != nil {
				return err
			}
			v.PRootPath, v.PRootBundled = p, bundled
		}
		if err := ptraceUsable(v.self()); err != nil {
			return err
		}
		return v.runProbe()
	}
	return fmt.Errorf("unknown strategy %q", v.Strategy)
}

// nativeUsable reports whether /nix is already nixDir.
func nativeUsable(nixDir string) error {
	want, err := os.Stat(nixDir)
	if err != nil {
		return fmt.Errorf("unable to stat %s\n%w", nixDir, err)
	}
	got, err := os.Stat("/nix")
	if err != nil {
		return errors.New("/nix does not exist")
	}
	if !os.SameFile(want, got) {
		return fmt.Errorf("/nix is another directory than %s", nixDir)
	}
	return nil
}

// runProbe starts a child through the strategy that checks /nix/store.
func (v *View) runProbe() error {
	args := []string{probeArg}
	if v.Seal.PrivateProc && v.Strategy != PRoot {
		args = append(args, "proc")
	}
	for _, p := range v.Seal.Hidden {
		args = append(args, "hidden="+p)
	}
	cmd := v.Command(v.self(), args...)
	out, err := cmd.CombinedOutput()
	if v.namespaced() && errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("unprivileged user namespaces are refused here (a seccomp profile such as Docker's default, or a sysctl)\n%w", err)
	}
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return errors.New(msg)
	}
	v.NewRootEntry = ""
	for _, line := range strings.Split(string(out), "\n") {
		if entered, ok := strings.CutPrefix(line, rootOpt); ok {
			v.NewRootEntry = entered
		}
	}
	return nil
}

// Chrooted says that the programs run chrooted (the new root was entered
// by chroot), so that they cannot make user namespaces: no Nix sandbox.
func (v View) Chrooted() bool {
	return strings.HasPrefix(v.NewRootEntry, enteredByChroot)
}

func (v *View) self() string {
	if v.Self != "" {
		return v.Self
	}
	if p, err := os.Executable(); err == nil {
		return p
	}
	return "/proc/self/exe"
}
