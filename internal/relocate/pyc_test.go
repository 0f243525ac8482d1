package relocate

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/relocate/check"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestCopyFixesCheckedPyc compiles a module naming a store path with the
// host's Python (checked-hash invalidation, PEP 552), relocates it, and
// asks Python whether the relocated .pyc's header holds the relocated
// source's hash.
func TestCopyFixesCheckedPyc(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		testenv.Missing(t, "python3 is missing (scripts/setup.sh installs python3-seccomp, which brings it)")
		return
	}
	orig := t.TempDir()
	name := storeName(t, "py")
	src := filepath.Join(orig, name, "lib", "mod.py")
	write(t, src, "TOOL = '/nix/store/"+strings.Repeat("b", 32)+"-tool/bin/tool'\n", 0o444)
	compile := `import py_compile, sys
py_compile.compile(sys.argv[1], invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH, doraise=True)
py_compile.compile(sys.argv[1], cfile=sys.argv[1]+"c", invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, doraise=True)`
	if out, err := exec.Command(python, "-c", compile, src).CombinedOutput(); err != nil {
		t.Fatalf("py_compile: %s %v", out, err)
	}
	pycs, _ := filepath.Glob(filepath.Join(orig, name, "lib", "__pycache__", "mod.*.pyc"))
	if len(pycs) != 1 {
		t.Fatalf("no checked .pyc: %v", pycs)
	}
	dst := filepath.Join(t.TempDir(), "r")
	p := Prefix("/app/.nixs")
	rep, err := Copy(orig, dst, []string{name}, p)
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(orig, pycs[0])
	if len(rep.PycFixed) != 1 || rep.PycFixed[0] != rel {
		t.Errorf("fixed %v, want [%s] (the unchecked .pyc needs no fix)", rep.PycFixed, rel)
	}
	verify := `import importlib.util, sys
src, pyc = sys.argv[1], sys.argv[2]
want = importlib.util.source_hash(open(src, "rb").read())
got = open(pyc, "rb").read()[8:16]
sys.exit(0 if got == want else 1)`
	moved := filepath.Join(dst, rel)
	if out, err := exec.Command(python, "-c", verify, filepath.Join(dst, name, "lib", "mod.py"), moved).CombinedOutput(); err != nil {
		t.Errorf("Python does not accept the relocated .pyc: %s %v", out, err)
	}
	if rep, err := check.Closure(orig, dst, string(p)); err != nil || len(rep.Broken) != 0 {
		t.Errorf("check after the fix: %v %v", rep.Broken, err)
	}
	// Put the original header back: the check must see the stale hash.
	data, _ := os.ReadFile(pycs[0])
	os.Chmod(moved, 0o644)
	mine, _ := os.ReadFile(moved)
	copy(mine[8:16], data[8:16])
	write(t, moved, string(mine), 0o444)
	rep2, err := check.Closure(orig, dst, string(p))
	if err != nil {
		t.Fatal(err)
	}
	if got := findingsText(rep2.Broken); !strings.Contains(got, rel+": hash-checked .pyc no longer matches its source mod.py") {
		t.Errorf("findings:\n%s", got)
	}
}
