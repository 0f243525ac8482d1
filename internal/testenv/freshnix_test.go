package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSuiteRunsOnFreshNix fails under CI when the suite does not see the
// fresh /nix of scripts/fresh-nix.sh (which scripts/test.sh and .ci/run go
// through): /nix must be the tmpfs whose source names this run's token, in
// a mount namespace other than the machine's, so that no test reads the
// host's store or what an earlier run left in it.
func TestSuiteRunsOnFreshNix(t *testing.T) {
	token := os.Getenv("NIXBP_FRESH_NIX")
	if token == "" || os.Getenv("NIXBP_FRESH_NIX_INSIDE") != "/nix" {
		Missing(t, "the suite does not run through scripts/fresh-nix.sh (scripts/test.sh does it), so /nix is the host's")
		return
	}
	source, fstype, ok := topMount(t, "/nix")
	if !ok || fstype != "tmpfs" || source != "nixbp-fresh-"+token {
		t.Fatalf("/nix is %s %s (mounted: %t), want the tmpfs nixbp-fresh-%s that scripts/fresh-nix.sh made", fstype, source, ok, token)
	}
	// Where pid 1's namespace can be read (not in every sandbox), it is
	// another one.
	self, err := os.Readlink("/proc/self/ns/mnt")
	if pid1, err1 := os.Readlink("/proc/1/ns/mnt"); err == nil && err1 == nil && self == pid1 {
		t.Fatalf("the suite runs in the machine's mount namespace (%s)", self)
	}
}

// topMount returns the source and type of the mount visible at dir: the
// last entry for it in /proc/self/mountinfo.
func topMount(t *testing.T, dir string) (source, fstype string, ok bool) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, found := strings.Cut(sc.Text(), " - ")
		fields, after := strings.Fields(pre), strings.Fields(post)
		if !found || len(fields) < 5 || len(after) < 2 || fields[4] != dir {
			continue
		}
		fstype, source, ok = after[0], after[1], true
	}
	return source, fstype, ok
}

// TestFreshNixGuard runs scripts/fresh-nix.sh on a directory standing for
// the host's /nix: inside, the directory is empty and writes to it stay
// there; a write that escapes the namespace (through /proc/PID/root of a
// process started outside it, as a daemon started outside it would write)
// fails the run and is named.
func TestFreshNixGuard(t *testing.T) {
	if os.Getuid() != 0 {
		Missing(t, "scripts/fresh-nix.sh needs root")
		return
	}
	outside := exec.Command("sleep", "3600")
	if err := outside.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = outside.Process.Kill(); _ = outside.Wait() }()
	host := filepath.Join(t.TempDir(), "nix")
	if err := os.MkdirAll(filepath.Join(host, "store", "abc-left-by-an-earlier-run"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(RepoRoot(), "scripts", "fresh-nix.sh")
	guard := func(shell string, env ...string) (string, error) {
		cmd := exec.Command(script, "/bin/sh", "-c", shell)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "NIXBP_FRESH_NIX_CHECK=") { // strict unless env says
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "NIXBP_FRESH_NIX_DIR="+host, "D="+host, fmt.Sprintf("OUTSIDE=/proc/%d/root", outside.Process.Pid))
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := guard(`test -z "$(ls -A "$D")" && mkdir -p "$D/store/new" && echo > "$D/var"`)
	if err != nil {
		t.Fatalf("inside the fresh view %s was not empty, or a write to it failed: %v\n%s", host, err, out)
	}
	if _, err := os.Stat(filepath.Join(host, "store", "new")); err == nil {
		t.Fatal("a write inside the fresh view reached the host's directory")
	}
	if _, err := os.Stat(filepath.Join(host, "store", "abc-left-by-an-earlier-run")); err != nil {
		t.Fatalf("the host's directory lost its content: %v", err)
	}

	out, err = guard(`mkdir "$OUTSIDE$D/store/escaped"`)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.Contains(out, "changed while the command ran") ||
		!strings.Contains(out, host+"/store/escaped") {
		t.Fatalf("a write that escaped to the host's directory passed the guard: %v\n%s", err, out)
	}
	_ = os.Remove(filepath.Join(host, "store", "escaped"))

	// On a shared machine, where others may write the host's /nix: reported,
	// not failed.
	out, err = guard(`mkdir "$OUTSIDE$D/store/escaped"`, "NIXBP_FRESH_NIX_CHECK=warn")
	if err != nil || !strings.Contains(out, host+"/store/escaped") || !strings.Contains(out, "not failing the run") {
		t.Fatalf("NIXBP_FRESH_NIX_CHECK=warn: %v\n%s", err, out)
	}
	_ = os.Remove(filepath.Join(host, "store", "escaped"))

	out, err = guard(`exit 7`)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("the command's exit status was not passed on: %v\n%s", err, out)
	}
}
