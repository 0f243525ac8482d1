// Command sandbox times Nix builds in Nix's sandbox against builds without
// it, through the buildpack's own view of /nix (userns, with the platform's
// directory hidden as a build hides it), and what turning the sandbox on
// costs a build once (the probe build of nixinstall.Ensure).
//
//	go run ./bench/sandbox [-rounds 5] [-drvs 20] [-dir /tmp/...]
//
// Each round builds -drvs new derivations (a chain, each a busybox script
// reading the one before, as a small app's build steps are) with the
// sandbox on and the same number off, interleaved (on, off, on, ...), each
// set new to the store (a nonce), one build at a time (max-jobs 1). It
// prints per mode the median and best wall time of a round and per
// derivation, and the ratio on/off. There is no target: issue 28 asks for
// the figure.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

func main() {
	nixmount.MaybeRunChild()
	rounds := flag.Int("rounds", 5, "interleaved rounds")
	drvs := flag.Int("drvs", 20, "derivations built per round")
	dir := flag.String("dir", "", "work directory (default: a fresh one under /tmp)")
	flag.Parse()
	if err := run(*dir, *rounds, *drvs); err != nil {
		fmt.Fprintln(os.Stderr, "bench/sandbox:", err)
		os.Exit(1)
	}
}

func run(dir string, rounds, drvs int) error {
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "bench-sandbox-"); err != nil {
			return err
		}
	}
	tarball := testenv.NixTarballPath(testenv.ToolsDir())
	src := nixinstall.Tarball{Version: testenv.NixVersion, Checksum: "bench",
		Open: func() (io.ReadCloser, error) { return os.Open(tarball) }}
	app := filepath.Join(dir, "app")
	if err := busybox(app); err != nil {
		return err
	}
	secret := filepath.Join(dir, "platform")
	if err := os.MkdirAll(filepath.Join(secret, "env"), 0o755); err != nil {
		return err
	}
	nixDir := filepath.Join(dir, "nix")
	ensure := func(mode settings.Sandbox) (nixinstall.Nix, time.Duration, error) {
		start := time.Now()
		n, err := nixinstall.Ensure(nixDir, src, nixmount.UserNS, nixinstall.Conf{Sandbox: mode}, nixmount.Hiding(secret))
		return n, time.Since(start), err
	}
	if _, _, err := ensure(settings.SandboxOff); err != nil { // the install, untimed
		return err
	}
	var builds = map[bool][]time.Duration{}
	var ensures = map[bool][]time.Duration{}
	for r := range rounds {
		for _, on := range []bool{true, false} {
			mode := settings.SandboxOff
			if on {
				mode = settings.SandboxAuto
			}
			n, took, err := ensure(mode)
			if err != nil {
				return err
			}
			if n.Sandbox.On != on {
				return fmt.Errorf("sandbox %v wanted, got %+v", on, n.Sandbox)
			}
			ensures[on] = append(ensures[on], took)
			expr := chain(app, drvs, fmt.Sprintf("%d-%v-%d", r, on, time.Now().UnixNano()))
			start := time.Now()
			out, err := n.Command("nix-build", "--no-out-link", "--option", "max-jobs", "1", "-E", expr).CombinedOutput()
			if err != nil {
				return fmt.Errorf("nix-build (sandbox %v): %v\n%s", on, err, out)
			}
			builds[on] = append(builds[on], time.Since(start))
		}
	}
	fmt.Printf("%d rounds of %d derivations, userns view with a hidden directory, Nix %s\n", rounds, drvs, testenv.NixVersion)
	fmt.Printf("%-28s %10s %10s %14s\n", "", "median", "best", "per drv (med)")
	for _, on := range []bool{true, false} {
		name := map[bool]string{true: "build, sandbox on", false: "build, sandbox off"}[on]
		m, b := stats(builds[on])
		fmt.Printf("%-28s %10s %10s %14s\n", name, m.Round(time.Millisecond), b.Round(time.Millisecond), (m / time.Duration(drvs)).Round(100*time.Microsecond))
	}
	for _, on := range []bool{true, false} {
		name := map[bool]string{true: "Ensure, auto (with probe)", false: "Ensure, false (no probe)"}[on]
		m, b := stats(ensures[on])
		fmt.Printf("%-28s %10s %10s\n", name, m.Round(time.Millisecond), b.Round(time.Millisecond))
	}
	mOn, _ := stats(builds[true])
	mOff, _ := stats(builds[false])
	eOn, _ := stats(ensures[true])
	eOff, _ := stats(ensures[false])
	fmt.Printf("ratio sandbox on/off, build: %.2f (target: none, issue 28 asks for the figure)\n", float64(mOn)/float64(mOff))
	fmt.Printf("the probe adds %s to a build\n", (eOn - eOff).Round(time.Millisecond))
	fmt.Printf("work directory (delete by hand): %s\n", dir)
	return nil
}

// chain is an expression of n derivations, each reading the one before.
func chain(app string, n int, nonce string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "let bb = %s/bb; step = prev: i: derivation { name = \"step-${toString i}\"; system = \"x86_64-linux\";\n", app)
	fmt.Fprintf(&b, "  builder = \"${bb}/bin/sh\"; PATH = \"${bb}/bin\"; nonce = %q; inherit prev;\n", nonce)
	b.WriteString("  args = [ \"-c\" \"mkdir -p $out; cat $prev/n 2>/dev/null > $out/n; echo $nonce >> $out/n; for f in 1 2 3 4 5; do echo $f > $out/$f; done\" ]; };\n")
	b.WriteString("  go = i: if i == 0 then \"/dev/null\" else step (go (i - 1)) i;\n")
	fmt.Fprintf(&b, "in go %d\n", n)
	return b.String()
}

func busybox(app string) error {
	bin := filepath.Join(app, "bb", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("busybox-static is needed: %w", err)
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755); err != nil {
		return err
	}
	return os.Symlink("busybox", filepath.Join(bin, "sh"))
}

func stats(ds []time.Duration) (median, best time.Duration) {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2], s[0]
}
