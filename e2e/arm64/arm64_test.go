//go:build arm64emu

package arm64_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/e2e/arm64"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// lifecycleVersion is scripts/tools.sh's; the arm64 build is
// lifecycle-<version>-linux-arm64 in the tools directory.
const lifecycleVersion = "0.21.14"

// TestArm64 packages the buildpack for both architectures, checks the arm64
// programs under qemu-user (binfmt), then boots the emulated arm64 machine
// and runs TestGuest there, built for arm64: NIXBP_ARM64_CASES=short (what
// .ci/run runs) compiles hello-web through the Heroku-style front-end with
// user namespaces; otherwise hello-web and the docs' static site go through
// the lifecycle and the Heroku-style front-end, built through user
// namespaces and through the bundled arm64 proot. Each build answers HTTP
// through the launcher under both.
func TestArm64(t *testing.T) {
	if os.Getenv("NIXBP_ARM64_GUEST") != "" {
		t.Skip("this is the emulated machine")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("boots an emulated arm64 machine from an amd64 one")
	}
	if os.Getuid() != 0 {
		testenv.Missing(t, "the arm64 test runs as root (9p shares, the machine's root, the build user)")
	}
	testenv.Require(t, "qemu-system-aarch64")
	repo := testenv.RepoRoot()
	cases := os.Getenv("NIXBP_ARM64_CASES")
	lifecycle := ""
	if cases != "short" {
		lifecycle = filepath.Join(testenv.ToolsDir(), "lifecycle-"+lifecycleVersion+"-linux-arm64")
		if _, err := os.Stat(filepath.Join(lifecycle, "lifecycle")); err != nil {
			testenv.Missing(t, "the arm64 lifecycle (scripts/arm64.sh setup)")
		}
	}
	machineDir := lastLine(t, run(t, repo, nil, filepath.Join(repo, "scripts", "arm64.sh"), "machine"))

	shared := openDir(t)
	tarball, err := e2e.Readable(testenv.NixTarballFor(t, "arm64"), shared)
	if err != nil {
		t.Fatal(err)
	}
	amd64Tarball, err := e2e.Readable(testenv.NixTarball(t), shared)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(shared, "out")
	pkg := []string{"--nix-tarball", amd64Tarball, "--nix-tarball", tarball, out}
	if cases == "short" {
		pkg = append([]string{"--arch", "arm64", "--no-cnb"}, pkg...) // the short case uses buildpack-arm64 only
	}
	start := time.Now()
	run(t, repo, nil, filepath.Join(repo, "scripts", "package.sh"), pkg...)
	t.Logf("scripts/package.sh %s: %s", strings.Join(pkg[:len(pkg)-1], " "), time.Since(start).Round(time.Second))
	// Unpacked here, as a platform unpacks a buildpack URL: tar in the
	// emulated machine takes minutes.
	heroku, err := e2e.HerokuBuildpack(out, filepath.Join(shared, "heroku-buildpack"))
	if err != nil {
		t.Fatal(err)
	}

	// qemu-user runs the arm64 programs here (binfmt): a quick check before
	// the machine boots.
	if _, err := os.Stat("/proc/sys/fs/binfmt_misc/qemu-aarch64"); err != nil {
		testenv.Missing(t, "qemu-aarch64 is not registered with binfmt_misc (scripts/arm64.sh binfmt)")
	}
	checks := []struct{ prog, arg, want string }{{filepath.Join(out, "buildpack-arm64", "bin", "nixbp"), "--version", "nixbp "}}
	if lifecycle != "" {
		checks = append(checks, struct{ prog, arg, want string }{filepath.Join(lifecycle, "lifecycle"), "-version", lifecycleVersion})
	}
	for _, c := range checks {
		if got := run(t, repo, nil, c.prog, c.arg); !strings.Contains(got, c.want) {
			t.Fatalf("%s %s under qemu-user printed %q, want %q", c.prog, c.arg, got, c.want)
		}
	}

	work := openDir(t)
	run(t, filepath.Join(repo, "e2e", "arm64"), []string{"GOARCH=arm64", "CGO_ENABLED=0"},
		"go", "test", "-c", "-tags", "arm64emu", "-o", filepath.Join(work, "guest.test"), ".")
	m := arm64.Machine{Dir: machineDir, Work: work, Shares: []arm64.Share{{Path: repo}, {Path: shared}}}
	if lifecycle != "" {
		m.Shares = append(m.Shares, arm64.Share{Path: lifecycle})
	}
	script := fmt.Sprintf(`cd /tmp && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp CI=true \
  NIXBP_ARM64_GUEST=1 NIXBP_ARM64_CASES=%q NIXBP_ARM64_OUT=%q NIXBP_ARM64_TARBALL=%q NIXBP_ARM64_LIFECYCLE=%q \
  NIXBP_ARM64_HEROKU=%q /nixbp-work/guest.test -test.v -test.count=1 -test.run '^TestGuest$' -test.timeout 100m`,
		cases, out, tarball, lifecycle, heroku)
	limit := 110 * time.Minute
	if cases == "short" {
		limit = 40 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var console bytes.Buffer
	var w io.Writer = &console
	if testing.Verbose() {
		w = io.MultiWriter(&console, os.Stderr)
	}
	start = time.Now()
	code, err := m.Run(ctx, script, w)
	took := time.Since(start)
	if err != nil || code != 0 || !strings.Contains(console.String(), "--- PASS: TestGuest ") {
		t.Fatalf("the emulated arm64 machine: exit %d, %v, after %s\n%s", code, err, took.Round(time.Second), tail(console.String(), 200))
	}
	for _, line := range lines(console.String()) {
		if strings.Contains(line, "arm64: ") || strings.HasPrefix(strings.TrimSpace(line), "--- ") {
			t.Log(strings.TrimSpace(line))
		}
	}
	t.Logf("the emulated arm64 machine booted, ran TestGuest (%s cases) and powered off in %s",
		map[bool]string{true: "short", false: "all"}[cases == "short"], took.Round(time.Second))
}

// run runs a command in dir with env added and returns its output, failing
// the test when it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(string(b), 60))
	}
	return string(b)
}

func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func lastLine(t *testing.T, s string) string {
	t.Helper()
	l := lines(strings.TrimSpace(s))
	if len(l) == 0 {
		t.Fatal("no output")
	}
	return l[len(l)-1]
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	l := lines(s)
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
