package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// Dyno runs commands confined as on a Heroku dyno: in a mount namespace
// where /nix is an empty read-only tmpfs, as an unprivileged uid, under a
// seccomp filter refusing unshare, setns, mount, ptrace, clone with
// CLONE_NEWUSER (EPERM) and clone3 (ENOSYS) (e2e/dyno/seccomp-exec.py), so
// neither user namespaces nor proot can show a store at /nix. With Slug
// set, that directory is bind-mounted at /app, where the dyno runs it.
// The namespace and the mounts are made as root before dropping the uid.
type Dyno struct {
	// Seccomp is e2e/dyno/seccomp-exec.py.
	Seccomp string
	// UID and GID run the commands.
	UID, GID int
	// Slug is mounted at /app ("" for none).
	Slug string
	// PrivateTmp gives the dyno a /tmp of its own (an empty tmpfs), as a
	// container has, but for Keep.
	PrivateTmp bool
	// Keep is a directory (under /tmp) that stays visible at its path in
	// the private /tmp: the test's workspace.
	Keep string
	// Nix, when set, is bound at /nix instead of the empty tmpfs, as a
	// native run image shows the view layer there.
	Nix string
	// AsRoot is a shell command run as root once the mounts are made,
	// before the uid is dropped (a test puts another user's file in place).
	AsRoot string
}

// AppDir is where a dyno runs the slug.
const AppDir = "/app"

// keepMount holds Dyno.Keep while the private /tmp is mounted over it.
const keepMount = "/var/tmp/nixbp-dyno-keep"

// Command runs argv in the dyno with exactly env as its environment.
func (d Dyno) Command(env []string, argv ...string) *exec.Cmd {
	script := `set -e
if [ -n "$NIXBP_DYNO_NIX" ]; then mount --bind "$NIXBP_DYNO_NIX" /nix; else mount -t tmpfs -o ro,mode=755 tmpfs /nix; fi
if [ -n "$NIXBP_DYNO_SLUG" ]; then mount --bind "$NIXBP_DYNO_SLUG" /app; fi
if [ -n "$NIXBP_DYNO_TMP" ]; then
  i=0; for k in $NIXBP_DYNO_KEEP; do mkdir -p ` + keepMount + `/$i; mount --bind "$k" ` + keepMount + `/$i; i=$((i+1)); done
  mount -t tmpfs -o mode=1777 tmpfs /tmp
  i=0; for k in $NIXBP_DYNO_KEEP; do mkdir -p "$k"; mount --move ` + keepMount + `/$i "$k"; i=$((i+1)); done
fi
if [ -n "$NIXBP_DYNO_AS_ROOT" ]; then sh -c "$NIXBP_DYNO_AS_ROOT"; fi
unset NIXBP_DYNO_SLUG NIXBP_DYNO_TMP NIXBP_DYNO_KEEP NIXBP_DYNO_NIX NIXBP_DYNO_AS_ROOT
exec setpriv --reuid="$0" --regid="$0" --clear-groups -- /usr/bin/python3 "$@"`
	args := append([]string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c", script,
		strconv.Itoa(d.UID), d.Seccomp}, argv...)
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(append([]string{}, env...), "NIXBP_DYNO_SLUG="+d.Slug, "NIXBP_DYNO_KEEP="+strings.Join(d.kept(), " "), "NIXBP_DYNO_NIX="+d.Nix, "NIXBP_DYNO_AS_ROOT="+d.AsRoot)
	if d.PrivateTmp {
		cmd.Env = append(cmd.Env, "NIXBP_DYNO_TMP=1")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// kept lists the directories under /tmp that stay visible in a private
// /tmp: Keep, and the checkout and the tools directory when they are under
// /tmp (a CI clone there: seccomp-exec.py, the lifecycle's launcher that
// process links point at), none inside another.
func (d Dyno) kept() []string {
	var dirs []string
	for _, dir := range []string{d.Keep, testenv.RepoRoot(), testenv.ToolsDir()} {
		dir = filepath.Clean(dir)
		if dir == "." || !strings.HasPrefix(dir+"/", "/tmp/") || dir == "/tmp" || strings.ContainsAny(dir, " \t\n") {
			continue
		}
		inside := false
		for i, k := range dirs {
			switch {
			case strings.HasPrefix(dir+"/", k+"/"):
				inside = true
			case strings.HasPrefix(k+"/", dir+"/"):
				dirs[i] = dir
				inside = true
			}
		}
		if !inside {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// PrepareDyno makes the mount points a dyno needs on the host: /nix, /app
// and keepMount (empty directories; the dyno mounts over them in its
// namespace).
func PrepareDyno() error {
	for _, d := range []string{"/nix", AppDir, keepMount} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("unable to create the mount point %s: %w", d, err)
		}
	}
	return nil
}

// DynamicELFApp copies fixtures/apps/dyn-web to dst and adds what its
// hop3.nix expects: libs/ (the host's dynamic loader and the libraries
// /usr/bin/env needs) and prog/bin/env, /usr/bin/env relinked by patchelf
// to the store path ./libs will have (asked of nix-store --add in a
// throwaway chroot store, as the expression's ${./libs} computes it).
func DynamicELFApp(fixture, dst string) error {
	if err := run("cp", "-a", fixture+"/.", dst+"/"); err != nil {
		return err
	}
	libs := filepath.Join(dst, "libs")
	if err := os.MkdirAll(libs, 0o755); err != nil {
		return err
	}
	out, err := exec.Command("ldd", "/usr/bin/env").Output()
	if err != nil {
		return fmt.Errorf("ldd /usr/bin/env: %w", err)
	}
	interp := ""
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		var lib string
		switch {
		case len(f) >= 3 && f[1] == "=>":
			lib = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			lib, interp = f[0], filepath.Base(f[0])
		default:
			continue
		}
		if err := run("cp", "-L", lib, filepath.Join(libs, filepath.Base(lib))); err != nil {
			return err
		}
	}
	if interp == "" {
		return fmt.Errorf("ldd /usr/bin/env names no dynamic loader:\n%s", out)
	}
	if err := run("chmod", "-R", "a+rX,go-w", libs); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("", "nixbp-libs-path-")
	if err != nil {
		return err
	}
	defer func() { run("chmod", "-R", "u+w", scratch); os.RemoveAll(scratch) }()
	add := exec.Command("nix-store", "--store", filepath.Join(scratch, "store"), "--option", "build-users-group", "",
		"--option", "substituters", "", "--add", libs)
	pathOut, err := add.Output()
	if err != nil {
		return fmt.Errorf("nix-store --add %s: %w", libs, err)
	}
	libsPath := strings.TrimSpace(string(pathOut))
	bin := filepath.Join(dst, "prog", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	if err := run("cp", "/usr/bin/env", filepath.Join(bin, "env")); err != nil {
		return err
	}
	return run("patchelf", "--set-interpreter", libsPath+"/"+interp, "--set-rpath", libsPath, filepath.Join(bin, "env"))
}
