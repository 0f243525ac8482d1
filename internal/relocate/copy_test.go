package relocate

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/relocate/check"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// storeName makes a store path base name with a hash of the right shape.
func storeName(t *testing.T, name string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return strings.Map(func(r rune) rune {
		if r == 'e' { // nixbase32 has no e, o, t, u
			return 'f'
		}
		return r
	}, hex.EncodeToString(b)) + "-" + name
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// runPrefix is a fresh directory of exactly len(StoreDir) bytes
// (/tmp/<5 characters>), so that relocated programs can run from it.
func runPrefix(t *testing.T) (Prefix, string) {
	t.Helper()
	for range 100 {
		b := make([]byte, 3)
		rand.Read(b)
		dir := "/tmp/" + hex.EncodeToString(b)[:5]
		if err := os.Mkdir(dir, 0o755); err == nil {
			t.Cleanup(func() { exec.Command("chmod", "-R", "u+w", dir).Run(); os.RemoveAll(dir) })
			return Prefix(dir), dir
		}
	}
	t.Fatal("no free /tmp/<5 characters> directory")
	return "", ""
}

func TestCopyRewritesAndKeepsMetadata(t *testing.T) {
	orig := t.TempDir()
	bash, app := storeName(t, "bash"), storeName(t, "app")
	script := "#!/nix/store/" + bash + "/bin/bash\nexec /nix/store/" + app + "/libexec/app\n"
	write(t, filepath.Join(orig, app, "bin", "app"), script, 0o555)
	write(t, filepath.Join(orig, app, "share", "plain.txt"), "no store paths here\n", 0o444)
	write(t, filepath.Join(orig, bash, "bin", "bash"), "fake", 0o555)
	if err := os.Symlink("/nix/store/"+bash+"/bin/bash", filepath.Join(orig, app, "bin", "sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../share/plain.txt", filepath.Join(orig, app, "bin", "rel")); err != nil {
		t.Fatal(err)
	}
	epoch := time.Unix(1, 0)
	for _, p := range []string{filepath.Join(orig, app, "bin", "app"), filepath.Join(orig, app, "bin"), filepath.Join(orig, app)} {
		if err := os.Chtimes(p, epoch, epoch); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(orig, app, "bin"), 0o555)
	t.Cleanup(func() { os.Chmod(filepath.Join(orig, app, "bin"), 0o755) })

	dst := filepath.Join(t.TempDir(), ".nixs")
	p := Prefix("/app/.nixs")
	rep, err := Copy(orig, dst, []string{app, bash}, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("chmod", "-R", "u+w", dst).Run() })
	got, _ := os.ReadFile(filepath.Join(dst, app, "bin", "app"))
	want := strings.ReplaceAll(script, "/nix/store/", "/app/.nixs/")
	if string(got) != want || len(got) != len(script) {
		t.Errorf("script = %q, want %q", got, want)
	}
	if target, _ := os.Readlink(filepath.Join(dst, app, "bin", "sh")); target != "/app/.nixs/"+bash+"/bin/bash" {
		t.Errorf("symlink -> %s", target)
	}
	if target, _ := os.Readlink(filepath.Join(dst, app, "bin", "rel")); target != "../share/plain.txt" {
		t.Errorf("relative symlink -> %s", target)
	}
	for path, mode := range map[string]os.FileMode{"bin/app": 0o555, "share/plain.txt": 0o444, "bin": 0o555} {
		fi, err := os.Lstat(filepath.Join(dst, app, path))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode(), err, mode)
		}
	}
	for _, path := range []string{"bin/app", "bin", ""} {
		fi, _ := os.Lstat(filepath.Join(dst, app, path))
		if !fi.ModTime().Equal(epoch) {
			t.Errorf("%s: mtime %v, want %v", path, fi.ModTime(), epoch)
		}
	}
	// Copies, never links: the original keeps its bytes.
	if o, _ := os.ReadFile(filepath.Join(orig, app, "bin", "app")); string(o) != script {
		t.Errorf("original changed: %q", o)
	}
	st, _ := os.Stat(filepath.Join(dst, app, "share", "plain.txt"))
	if st.Sys().(*syscall.Stat_t).Nlink != 1 {
		t.Errorf("plain.txt is hard-linked")
	}
	if rep.Paths != 2 || rep.Files != 3 || rep.Symlinks != 2 || rep.Rewritten != 3 || rep.RewrittenFiles != 2 {
		t.Errorf("report = %+v", rep)
	}
}

// TestRelocatedELFRuns relinks a real dynamic program (/usr/bin/env) and
// its libraries into store paths with patchelf, relocates them to a
// directory of the same length, and runs the copy: its interpreter and
// libraries come from the relocated closure, which /nix does not hold.
func TestRelocatedELFRuns(t *testing.T) {
	orig, libs, prog := elfClosure(t)
	p, dst := runPrefix(t)
	if _, err := Copy(orig, dst, []string{libs, prog}, p); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(dst, prog, "bin", "env"), "RELOCATED=yes", "/bin/sh", "-c", "echo $RELOCATED").CombinedOutput()
	if err != nil || string(out) != "yes\n" {
		t.Fatalf("relocated env: %q, %v", out, err)
	}
	if _, err := os.Stat("/nix/store/" + libs); err == nil {
		t.Fatal("the libraries are in /nix/store: the test would not show relocation")
	}
	rep, err := check.Closure(orig, dst, string(p))
	if err != nil || len(rep.Broken) != 0 {
		t.Fatalf("check: %v %v", rep.Broken, err)
	}
	// The same tree unrewritten still points into /nix.
	rep, err = check.Closure(orig, orig, string(p))
	if err != nil {
		t.Fatal(err)
	}
	if s := findingsText(rep.Broken); !strings.Contains(s, "ELF interpreter /nix/store/"+libs) || !strings.Contains(s, "ELF DT_RUNPATH /nix/store/"+libs+"/lib is outside") {
		t.Errorf("unrewritten ELF findings:\n%s", s)
	}
}

// elfClosure makes a store of two paths: libs (the dynamic loader and the
// libraries /usr/bin/env needs, from the host) and prog (/usr/bin/env
// relinked by patchelf to use them).
func elfClosure(t *testing.T) (store, libs, prog string) {
	t.Helper()
	if _, err := exec.LookPath("patchelf"); err != nil {
		testenv.Missing(t, "patchelf is missing (scripts/setup.sh installs it)")
		return
	}
	store = t.TempDir()
	libs, prog = storeName(t, "libs"), storeName(t, "env")
	out, err := exec.Command("ldd", "/usr/bin/env").Output()
	if err != nil {
		t.Fatal(err)
	}
	var interp string
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
		data, err := os.ReadFile(lib)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(store, libs, "lib", filepath.Base(lib)), string(data), 0o555)
	}
	data, _ := os.ReadFile("/usr/bin/env")
	bin := filepath.Join(store, prog, "bin", "env")
	write(t, bin, string(data), 0o755)
	libDir := "/nix/store/" + libs + "/lib"
	if out, err := exec.Command("patchelf", "--set-interpreter", libDir+"/"+interp, "--set-rpath", libDir, bin).CombinedOutput(); err != nil {
		t.Fatalf("patchelf: %s %v", out, err)
	}
	return store, libs, prog
}

func findingsText(fs []check.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

// TestSymlinkSpellingsRelocated is issue 21, row 12: a symlink into the
// store spelled /nix//store, /nix/./store or //nix/store resolves there
// as the kernel reads it, so it is normalised and relocated; one into /nix
// outside the store is reported, however spelled.
func TestSymlinkSpellingsRelocated(t *testing.T) {
	orig := t.TempDir()
	name, dep := storeName(t, "links"), storeName(t, "dep")
	write(t, filepath.Join(orig, dep, "bin", "tool"), "#!/bin/sh\n", 0o755)
	links := map[string]string{
		"double":   "/nix//store/" + dep + "/bin/tool",
		"dot":      "/nix/./store/" + dep + "/bin/tool",
		"leading":  "//nix/store/" + dep + "/bin/tool",
		"trailing": "/nix/store//" + dep + "/bin/tool",
		"plain":    "/nix/store/" + dep + "/bin/tool",
		"relative": "../../" + dep + "/bin/tool",
	}
	if err := os.MkdirAll(filepath.Join(orig, name, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(orig, name, "bin", l)); err != nil {
			t.Fatal(err)
		}
	}
	for l, target := range map[string]string{"profile": "/nix/var/nix/profiles/default", "profile-spelled": "//nix/./var/nix/profiles/default"} {
		if err := os.Symlink(target, filepath.Join(orig, name, l)); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), ".nixs")
	p := Prefix("/app/.nixs")
	if _, err := Copy(orig, dst, []string{name, dep}, p); err != nil {
		t.Fatal(err)
	}
	for l, target := range links {
		got, _ := os.Readlink(filepath.Join(dst, name, "bin", l))
		want := "/app/.nixs/" + dep + "/bin/tool"
		if l == "relative" {
			want = target
		}
		if got != want {
			t.Errorf("%s -> %s relocated to %q, want %q", l, target, got, want)
		}
	}
	rep, err := check.Closure(orig, dst, string(p))
	if err != nil {
		t.Fatal(err)
	}
	want := "/nix/store/" + name + "/profile-spelled: symlink to //nix/./var/nix/profiles/default points into /nix, which is absent at run time\n" +
		"/nix/store/" + name + "/profile: symlink to /nix/var/nix/profiles/default points into /nix, which is absent at run time\n"
	if got := findingsText(rep.Broken); got != want {
		t.Errorf("findings:\n%swant\n%s", got, want)
	}
}
