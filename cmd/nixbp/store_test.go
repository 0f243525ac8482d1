package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/storegc"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestStoreDu installs Nix from the tarball fixture into a build-cache
// directory, builds and collects as a build does, adds one garbage path,
// and reads `nixbp store du`.
func TestStoreDu(t *testing.T) {
	tarball := testenv.NixTarball(t)
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(tarball), "nix-"), "-x86_64-linux.tar.xz")
	dir := filepath.Join(t.TempDir(), "nix")
	nix, err := nixinstall.Ensure(dir, nixinstall.Tarball{Version: version, Checksum: "test",
		Open: func() (io.ReadCloser, error) { return os.Open(tarball) }}, nixmount.Auto, nixinstall.Conf{})
	if err != nil {
		t.Fatal(err)
	}
	app := t.TempDir()
	testenv.Busybox(t, app)
	expr := `let bb = ./bb; in derivation { name = "du-app"; system = "x86_64-linux";
	  builder = "${bb}/bin/sh"; PATH = "${bb}/bin"; args = ["-c" "mkdir $out; ln -s ${bb}/bin/busybox $out/bb"]; }`
	if err := os.WriteFile(filepath.Join(app, "app.nix"), []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := nix.Command("nix-build", "--no-out-link", filepath.Join(app, "app.nix"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix-build: %v", err)
	}
	if _, err := storegc.Collect(nix, storegc.Build{Output: strings.TrimSpace(string(out))}, storegc.Options{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "junk"), []byte("junk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := nix.Command("nix-store", "--add", filepath.Join(app, "junk")).CombinedOutput(); err != nil {
		t.Fatalf("nix-store --add: %v\n%s", err, out)
	}

	var stdout bytes.Buffer
	if err := runStore([]string{"du", "--nix-dir", dir}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	t.Logf("nixbp store du:\n%s", stdout.String())
	u, err := storegc.Inspect(nix)
	if err != nil {
		t.Fatal(err)
	}
	// output: du-app; build: its .drv and bb (the output's runtime closure
	// counts under output); one garbage path.
	for _, want := range []string{
		`(?m)^Nix store ` + regexp.QuoteMeta(dir) + ` \(Nix ` + regexp.QuoteMeta(version) + `, /nix through \w+\)$`,
		`(?m)^nix +\d+ +[\d.]+ [KMG]iB$`,
		`(?m)^output +2 +[\d.]+ [KMG]iB$`,
		`(?m)^build +1 +\d+ B$`,
		`(?m)^\(unrooted: garbage\) +1 +\d+ B$`,
		`(?m)^total +` + regexp.QuoteMeta(itoa(u.LivePaths+u.GarbagePaths)) + ` +` + regexp.QuoteMeta(storegc.HumanBytes(u.Live+u.Garbage)) + `$`,
	} {
		if !regexp.MustCompile(want).MatchString(stdout.String()) {
			t.Errorf("nixbp store du lacks a line matching %s", want)
		}
	}

	stdout.Reset()
	if err := runStore([]string{"verify", "--nix-dir", dir}, &stdout, io.Discard); err != nil || !strings.Contains(stdout.String(), "every root valid") {
		t.Errorf("nixbp store verify: %v\n%s", err, stdout.String())
	}
	link := filepath.Join(dir, "var", "nix", "gcroots", "nixbp", "stray")
	if err := os.Symlink("/nix/store/00000000000000000000000000000000-gone", link); err != nil {
		t.Fatal(err)
	}
	if err := runStore([]string{"verify", "--nix-dir", dir}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "1 problems") {
		t.Errorf("nixbp store verify with a dangling root: %v", err)
	}
	_ = os.Remove(link)

	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"du"}, "needs --nix-dir DIR"},
		{[]string{"du", "--nix-dir", app}, "holds no Nix installed by the buildpack"},
		{[]string{"gc", "--nix-dir", dir}, `takes one command, du or verify; got ["gc"]`},
		{[]string{"du", "--nix-dir", dir, "--strategy", "magic"}, `--strategy: unknown /nix strategy "magic"`},
	} {
		if err := runStore(c.args, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("nixbp store %q: error %v, want %q", c.args, err, c.err)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
