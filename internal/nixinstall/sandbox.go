package nixinstall

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// Sandbox is whether Nix builds in its sandbox (a user, mount, PID and
// network namespace per build, holding only the derivation's inputs: no
// network but for fixed-output derivations), and why.
type Sandbox struct {
	// On says that nix.conf has sandbox = true and a probe build passed.
	On bool
	// Why says why it is off, or where the sandbox's /bin/sh comes from.
	Why string
	// Paths is nix.conf's sandbox-paths when On.
	Paths string
}

// sandboxConf are the nix.conf lines of a sandbox that is on.
func (s Sandbox) conf() string {
	if !s.On {
		return "sandbox = false\n"
	}
	c := "sandbox = true\n" +
		// An unusable sandbox is an error, never a silent build without it.
		"sandbox-fallback = false\n" +
		"sandbox-paths = " + s.Paths + "\n"
	if os.Getuid() == 0 {
		// Root in a user namespace that refuses setgroups (ours) has no
		// supplementary groups to drop.
		c += "require-drop-supplementary-groups = false\n"
	}
	return c
}

// sandboxProbe is a derivation built by one of Nix's builtin builders (no
// program, no input), so that it builds wherever the sandbox can be set up;
// the nonce makes it a new derivation each time, so it is built, not found.
const sandboxProbe = `derivation { name = "nixbp-sandbox-probe"; system = builtins.currentSystem;
  builder = "builtin:buildenv"; derivations = ""; manifest = "probe"; nonce = "%d"; }`

// enableSandbox turns Nix's sandbox on as mode asks and the view allows:
// never under proot (ptrace gives Nix no namespaces to build in), else when
// a probe build passes in it. With mode true, not having it is an error.
func (n Nix) enableSandbox(s Conf) (Sandbox, error) {
	off := func(why string) (Sandbox, error) {
		if s.Sandbox == settings.SandboxOn {
			return Sandbox{Why: why}, fmt.Errorf("%s=true, but Nix's sandbox cannot be had here: %s\n"+
				"build where unprivileged user namespaces are allowed (BP_NIX_STRATEGY=userns or native), or set %s=auto to build without it",
				settings.SandboxName, why, settings.SandboxName)
		}
		return Sandbox{Why: why}, nil
	}
	switch {
	case s.Sandbox == "":
		return Sandbox{Why: "not asked for"}, nil
	case s.Sandbox == settings.SandboxOff:
		return Sandbox{Why: settings.SandboxName + "=false"}, nil
	case n.View.Strategy == nixmount.PRoot:
		return off("/nix is shown through proot, which gives Nix no namespaces to build in (user namespaces are refused here, or BP_NIX_STRATEGY=proot)")
	}
	paths, shell := n.sandboxShell()
	sb := Sandbox{On: true, Paths: paths, Why: shell}
	if err := writeConf(n.Dir, s, sb); err != nil {
		return Sandbox{}, err
	}
	out, err := n.Command("nix-build", "--no-out-link", "-E", fmt.Sprintf(sandboxProbe, time.Now().UnixNano())).CombinedOutput()
	if err == nil {
		return sb, nil
	}
	if werr := writeConf(n.Dir, s, Sandbox{}); werr != nil {
		return Sandbox{}, werr
	}
	why := "Nix could not set it up: " + lastLine(string(out), err)
	if n.View.Chrooted() {
		why += "; the /nix view is a new root entered by " + n.View.NewRootEntry +
			", and the kernel gives a chrooted process no user namespace"
	}
	return off(why)
}

// sandboxShell is the sandbox-paths value and where its /bin/sh comes
// from: Nix's own default when what it names exists (the official
// installer's static busybox in the store), else a static shell of the
// builder's (bash-static, busybox-static), else none: derivations that run
// /bin/sh then fail, and the log says so.
func (n Nix) sandboxShell() (paths, why string) {
	def := n.defaultSandboxPaths()
	for _, entry := range strings.Fields(def) {
		target, source, _ := strings.Cut(strings.TrimSuffix(entry, "?"), "=")
		if source == "" {
			source = target
		}
		if target == "/bin/sh" && n.exists(source) && isStatic(n.hostPath(source)) {
			return def, "/bin/sh is " + source + ", Nix's own default"
		}
	}
	for _, p := range []string{"/usr/bin/bash-static", "/bin/bash-static", "/bin/busybox", "/usr/bin/busybox"} {
		if isStatic(p) {
			return "/bin/sh=" + p, "/bin/sh is the builder's static " + p
		}
	}
	return "", "no /bin/sh in it: this builder has no static shell (Nix's default, " + strconv.Quote(def) + ", is missing)"
}

// defaultSandboxPaths asks this Nix for its compiled-in sandbox-paths
// (nix.conf does not set it until the sandbox is on).
func (n Nix) defaultSandboxPaths() string {
	if out, err := n.Command("nix", "--extra-experimental-features", "nix-command", "config", "show", "sandbox-paths").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	out, err := n.Command("nix", "--extra-experimental-features", "nix-command", "show-config").Output()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "sandbox-paths = "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// hostPath is where a path of the view is on the builder: /nix/... is in
// the Nix directory.
func (n Nix) hostPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "/nix/"); ok {
		return filepath.Join(n.Dir, rest)
	}
	return p
}

func (n Nix) exists(p string) bool {
	_, err := os.Stat(n.hostPath(p))
	return err == nil
}

// isStatic says whether p is an ELF program without an interpreter (it
// runs in a sandbox that holds nothing else).
func isStatic(p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false
		}
	}
	return f.Type == elf.ET_EXEC || f.Type == elf.ET_DYN
}

// lastLine is the last non-empty line of a command's output, or its error.
func lastLine(out string, err error) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return strings.TrimPrefix(l, "error: ")
		}
	}
	if err != nil {
		return err.Error()
	}
	return "no output"
}
