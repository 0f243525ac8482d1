package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// HerokuBuildpack extracts the Heroku-style tarball scripts/package.sh made
// in out (nix-buildpack-<version>.tgz) into dir, as a platform unpacks a
// buildpack URL, and returns dir.
func HerokuBuildpack(out, dir string) (string, error) {
	m, _ := filepath.Glob(filepath.Join(out, "nix-buildpack-*.tgz"))
	if len(m) != 1 {
		return "", fmt.Errorf("scripts/package.sh made %v in %s, want one nix-buildpack-<version>.tgz", m, out)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, run("tar", "-xzf", m[0], "-C", dir)
}

// HerokuOptions says how a Heroku-style build is laid out and run.
type HerokuOptions struct {
	// AppSource is a fixture app directory to copy into the build dir.
	AppSource string
	// Buildpack is the extracted Heroku tarball.
	Buildpack string
	// Busybox is copied into the app as bb/bin/busybox (with bb/bin/sh).
	Busybox string
	// Nixpkgs makes the nixpkgs-shaped test channel (fixtures/nixpkgs, with
	// Busybox copied in) at root/nixpkgs, sets the config var BP_NIX_NIXPKGS
	// to it unless EnvDir does, and locks an app's flake.nix to it when there
	// is no flake.lock.
	Nixpkgs bool
	// EnvDir holds config vars, one file each (the Heroku buildpack API),
	// with BP_NIX_SUBSTITUTERS=none unless set (Offline).
	EnvDir map[string]string
	// BuildPath and RunPath are the app's directory during compile and at
	// run time, relative to the root (Heroku compiles in /tmp/build_<id>
	// and runs the slug at /app). Defaults: "build" and "app".
	BuildPath, RunPath string
	// UID and GID run every phase; 0 runs them as root (older Dokku).
	UID, GID int
}

// HerokuApp is one app built the way herokuish and Heroku's slug compiler
// run a buildpack: bin/detect BUILD_DIR, bin/compile BUILD_DIR CACHE_DIR
// ENV_DIR and bin/release BUILD_DIR CACHE_DIR (herokuish), then the slug is
// moved to where it runs and a process type is started from the Procfile or
// the release's default_process_types, with .profile.d/*.sh sourced.
type HerokuApp struct {
	Root, Build, Cache, EnvDir, Run, Buildpack string
	// Nixpkgs is the test channel's directory when HerokuOptions.Nixpkgs is set.
	Nixpkgs  string
	UID, GID int
}

// NewHerokuApp lays out the build dir (a copy of the app), a cache dir and
// an env dir under root, owned by the build user.
func NewHerokuApp(root, cache string, o HerokuOptions) (*HerokuApp, error) {
	if o.BuildPath == "" {
		o.BuildPath = "build"
	}
	if o.RunPath == "" {
		o.RunPath = "app"
	}
	a := &HerokuApp{Root: root, Build: filepath.Join(root, o.BuildPath), Cache: cache, EnvDir: filepath.Join(root, "env"),
		Run: filepath.Join(root, o.RunPath), Buildpack: o.Buildpack, UID: o.UID, GID: o.GID}
	if err := os.MkdirAll(a.Build, 0o755); err != nil {
		return nil, err
	}
	if err := run("cp", "-a", o.AppSource+"/.", a.Build+"/"); err != nil {
		return nil, err
	}
	if o.Busybox != "" {
		bin := filepath.Join(a.Build, "bb", "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			return nil, err
		}
		if err := run("cp", o.Busybox, filepath.Join(bin, "busybox")); err != nil {
			return nil, err
		}
		if err := os.Symlink("busybox", filepath.Join(bin, "sh")); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(a.EnvDir, 0o755); err != nil {
		return nil, err
	}
	if o.Nixpkgs {
		var err error
		if a.Nixpkgs, err = makeNixpkgs(root, a.Build, o.Busybox); err != nil {
			return nil, err
		}
		if _, ok := o.EnvDir["BP_NIX_NIXPKGS"]; !ok {
			if err := os.WriteFile(filepath.Join(a.EnvDir, "BP_NIX_NIXPKGS"), []byte(a.Nixpkgs), 0o644); err != nil {
				return nil, err
			}
		}
	}
	for k, v := range Offline(o.EnvDir) {
		if err := os.WriteFile(filepath.Join(a.EnvDir, k), []byte(v), 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(a.Cache, 0o755); err != nil {
		return nil, err
	}
	owner := fmt.Sprintf("%d:%d", o.UID, o.GID)
	for _, d := range []string{a.Build, a.EnvDir, a.Cache} {
		if err := run("chown", "-R", owner, d); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Detect runs bin/detect BUILD_DIR and returns its stdout, stderr and exit
// status.
func (a *HerokuApp) Detect() (stdout, stderr string, code int, err error) {
	return a.phase("detect", nil, a.Build)
}

// Compile runs bin/compile BUILD_DIR CACHE_DIR ENV_DIR with env added to
// the platform's environment, and returns its output (stdout and stderr
// interleaved, as a platform shows them).
func (a *HerokuApp) Compile(env map[string]string) (string, error) {
	cmd := a.command("compile", env, a.Build, a.Cache, a.EnvDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("bin/compile: %w", err)
	}
	return string(out), nil
}

// CompileCommand is bin/compile BUILD_DIR CACHE_DIR ENV_DIR, not started,
// for a test that watches its output as it runs.
func (a *HerokuApp) CompileCommand(env map[string]string) *exec.Cmd {
	return a.command("compile", env, a.Build, a.Cache, a.EnvDir)
}

// Release runs bin/release BUILD_DIR CACHE_DIR, as herokuish (Dokku) calls
// it (Heroku passes BUILD_DIR alone), and returns the YAML it prints.
func (a *HerokuApp) Release() (string, error) {
	stdout, stderr, code, err := a.phase("release", nil, a.Build, a.Cache)
	if err != nil || code != 0 {
		return stdout, fmt.Errorf("bin/release exited %d (%v)\n%s", code, err, stderr)
	}
	return stdout, nil
}

func (a *HerokuApp) phase(name string, env map[string]string, args ...string) (string, string, int, error) {
	cmd := a.command(name, env, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return stdout.String(), stderr.String(), exit.ExitCode(), nil
	}
	return stdout.String(), stderr.String(), 0, err
}

func (a *HerokuApp) command(name string, env map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(a.Buildpack, "bin", name), args...)
	cmd.Dir = a.Root
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + a.Root,
		"TMPDIR=/tmp", "STACK=heroku-24"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	a.asUser(cmd)
	return cmd
}

// Slug moves the compiled build dir to the run path, as a platform
// extracts the slug where the app runs.
func (a *HerokuApp) Slug() error {
	if a.Run == a.Build {
		return nil
	}
	if err := os.RemoveAll(a.Run); err != nil {
		return err
	}
	return os.Rename(a.Build, a.Run)
}

// ProcessCommand returns a process type's command line: from the slug's
// Procfile when it has one (the platform's precedence), else from the
// release's default_process_types.
func (a *HerokuApp) ProcessCommand(release, processType string) (string, error) {
	if data, err := os.ReadFile(filepath.Join(a.Run, "Procfile")); err == nil {
		procs := ParseProcfile(string(data))
		if cmd, ok := procs[processType]; ok {
			return cmd, nil
		}
		return "", fmt.Errorf("the Procfile has no %s process:\n%s", processType, data)
	}
	procs, err := DefaultProcessTypes(release)
	if err != nil {
		return "", err
	}
	if cmd, ok := procs[processType]; ok {
		return cmd, nil
	}
	return "", fmt.Errorf("no Procfile and the release has no %s process:\n%s", processType, release)
}

// Start runs command as a dyno does: bash in the app's directory sources
// .profile.d/*.sh, then execs the command, with env (PORT...) set.
func (a *HerokuApp) Start(command string, env map[string]string, out io.Writer) (*exec.Cmd, error) {
	cmd := exec.Command("bash", "-c", `for f in .profile.d/*.sh; do . "$f"; done; exec `+command)
	cmd.Dir = a.Run
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + a.Run, "TMPDIR=/tmp"}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	a.asUser(cmd)
	return cmd, cmd.Start()
}

func (a *HerokuApp) asUser(cmd *exec.Cmd) {
	if os.Getuid() == 0 && a.UID != 0 {
		path := cmd.Path
		if !filepath.IsAbs(path) {
			if p, err := exec.LookPath(path); err == nil {
				path = p
			}
		}
		cmd.Args = append([]string{"setpriv", "--reuid=" + strconv.Itoa(a.UID), "--regid=" + strconv.Itoa(a.GID),
			"--clear-groups", "--", path}, cmd.Args[1:]...)
		cmd.Path = "/usr/bin/setpriv"
	}
}

// ParseProcfile reads "type: command" lines as Heroku does.
func ParseProcfile(s string) map[string]string {
	procs := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		t, cmd, ok := strings.Cut(sc.Text(), ":")
		t = strings.TrimSpace(t)
		if !ok || t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		procs[t] = strings.TrimSpace(cmd)
	}
	return procs
}

// DefaultProcessTypes reads default_process_types from a release YAML in
// the two forms bin/release prints: "--- {}", or a mapping whose values
// are double-quoted scalars (JSON strings) or plain scalars.
func DefaultProcessTypes(release string) (map[string]string, error) {
	procs := map[string]string{}
	in := false
	for _, line := range strings.Split(release, "\n") {
		switch {
		case strings.TrimSpace(line) == "" || line == "---" || line == "--- {}":
		case line == "default_process_types:":
			in = true
		case in && strings.HasPrefix(line, "  "):
			t, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
			if !ok {
				return nil, fmt.Errorf("release YAML: malformed line %q", line)
			}
			if strings.HasPrefix(v, `"`) {
				if err := json.Unmarshal([]byte(v), &v); err != nil {
					return nil, fmt.Errorf("release YAML: %q: %v", line, err)
				}
			}
			procs[t] = v
		default:
			in = false
		}
	}
	return procs, nil
}

// Tree lists every path under dir with its type, mode, size and link
// target, to show that a failed compile left a directory as it was.
func Tree(dir string) (string, error) {
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		target := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			target, _ = os.Readlink(p)
		}
		fmt.Fprintf(&b, "%s %s %d %s\n", rel, fi.Mode(), fi.Size(), target)
		return nil
	})
	return b.String(), err
}

// StopDyno stops a started process as Heroku stops a dyno: SIGTERM to
// every process in it (here its process group), SIGKILL to what is left
// after 5 s. It returns the exit status of the process Start ran.
func StopDyno(cmd *exec.Cmd) (int, error) { return stop(cmd, true) }
