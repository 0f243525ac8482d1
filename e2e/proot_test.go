package e2e_test

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// checkPackagedPRoot checks the static proots scripts/package.sh bundles in
// the CNB buildpacks (bin/proot of buildpack and buildpack-arm64) and the
// Heroku-style one (lib/linux-amd64/proot, lib/linux-arm64/proot), and that
// both carry the exact Debian sources scripts/proot.sh pins, in sources/.
// The arm64 one runs in scripts/arm64.sh's emulated machine (e2e/arm64).
func checkPackagedPRoot(t *testing.T, cnb, heroku string) {
	bin := filepath.Join(cnb, "bin", "proot")
	if _, err := os.Stat(bin); err != nil {
		testenv.Missing(t, "scripts/package.sh bundled no proot: "+err.Error())
	}
	for _, arch := range []struct {
		name, bin string
		machine   elf.Machine
	}{
		{"amd64", bin, elf.EM_X86_64},
		{"arm64", filepath.Join(filepath.Dir(cnb), "buildpack-arm64", "bin", "proot"), elf.EM_AARCH64},
	} {
		staticELF(t, arch.bin, arch.machine)
		a, err := os.ReadFile(arch.bin)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(heroku, "lib", "linux-"+arch.name, "proot"))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("the Heroku-style buildpack's lib/linux-%s/proot differs from the CNB one's bin/proot (%v)", arch.name, err)
		}
	}
	script, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "scripts", "proot.sh"))
	if err != nil {
		t.Fatal(err)
	}
	pins := regexp.MustCompile(`(?m)^  "[a-z]/[^/ ]+/([^ ]+) ([0-9a-f]{64})"$`).FindAllStringSubmatch(string(script), -1)
	if len(pins) != 6 {
		t.Fatalf("scripts/proot.sh pins %d source files, want 6 (proot, samba, glibc: orig and debian each)", len(pins))
	}
	for _, dir := range []string{filepath.Join(cnb, "sources"), filepath.Join(filepath.Dir(cnb), "buildpack-arm64", "sources"), filepath.Join(heroku, "sources")} {
		for _, pin := range pins {
			sum, err := nixinstall.FileSHA256(filepath.Join(dir, pin[1]))
			if err != nil || sum != pin[2] {
				t.Errorf("%s/%s: sha256 %s, %v; want the pinned %s", dir, pin[1], sum, err, pin[2])
			}
		}
		for _, name := range []string{"proot.sh", "README", "talloc-config.h"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Errorf("%s: %v", dir, err)
			}
		}
	}

	// It runs as an unprivileged user and shows a directory at /nix.
	dir := openTempDir(t)
	if err := os.MkdirAll(filepath.Join(dir, "nix", "store"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nix", "store", "marker"), []byte("bundled\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=2000", "--regid=2000", "--clear-groups",
		bin, "-b", filepath.Join(dir, "nix")+":/nix", "/bin/cat", "/nix/store/marker")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "bundled\n" {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}

// staticELF fails unless path is an ELF executable for machine with no
// program interpreter and no dynamic section: one that runs on any Linux
// image of that architecture.
func staticELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	if f.Machine != machine || f.Type != elf.ET_EXEC {
		t.Errorf("%s: %s %s, want an %s executable", path, f.Machine, f.Type, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %s program header: not statically linked", path, p.Type)
		}
	}
	if file, err := exec.LookPath("file"); err == nil {
		out, err := exec.Command(file, "-b", path).Output()
		if err != nil || !strings.Contains(string(out), "statically linked") {
			t.Errorf("file %s: %q, %v; want statically linked", path, out, err)
		}
	}
}
