package nixmount_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// secrets lays out what a platform hands a build on disk: a platform
// directory with env/, a bindings root outside it, ENV_DIR, a credentials
// file, and a link to the platform directory.
func secrets(t *testing.T) (root string, paths []string) {
	t.Helper()
	root = t.TempDir()
	for name, body := range map[string]string{
		"platform/env/AWS_SECRET_ACCESS_KEY": "platform-secret-1",
		"bindings/nix-cache/secret-key":      "binding-secret-2",
		"env_dir/BP_NIX_CACHE_SECRET_KEY":    "env-dir-secret-3",
		"aws/credentials":                    "credentials-secret-4",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "platform"), filepath.Join(root, "platform-link")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"platform-link", "bindings", "env_dir", "aws/credentials", "absent"} {
		paths = append(paths, filepath.Join(root, p))
	}
	return root, paths
}

// TestHidingShowsSecretsEmpty opens each strategy with the secrets' paths
// hidden and reads them through it as a build would: by path, through the
// link, with find over their parent, and through /proc (this process's
// environment holds a secret; its /proc entry and root must not show).
func TestHidingShowsSecretsEmpty(t *testing.T) {
	if os.Getenv("NIXMOUNT_TEST_SECRET") == "" {
		// Run again with the secret in the process's initial environment,
		// which /proc/PID/environ shows (os.Setenv does not change it).
		reRun(t, "TestHidingShowsSecretsEmpty", "NIXMOUNT_TEST_SECRET=environ-secret-5")
		return
	}
	cases := []struct {
		name  string
		strat nixmount.Strategy
		opts  []func(*nixmount.View)
		needs string
	}{
		{"userns bind", nixmount.UserNS, nil, ""},
		{"userns new root", nixmount.UserNS, []func(*nixmount.View){nixmount.WithNewRoot}, ""},
		{"proot", nixmount.PRoot, nil, "proot"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.needs != "" {
				testenv.Require(t, c.needs)
			}
			nixDir, _ := storeWithMarker(t)
			root, paths := secrets(t)
			v, err := nixmount.Open(nixDir, c.strat, append(c.opts, nixmount.Hiding(paths...))...)
			if err != nil {
				t.Fatal(err)
			}
			checkSealed(t, v, root)
		})
	}
}

// checkSealed reads the secrets through v and fails on any it sees.
func checkSealed(t *testing.T, v nixmount.View, root string) {
	t.Helper()
	if v.Seal.Err != nil || v.Seal.ProcErr != nil {
		t.Fatalf("seal: %v / %v", v.Seal.Err, v.Seal.ProcErr)
	}
	for _, want := range []string{"platform-link", "platform", "bindings", "env_dir", "aws/credentials"} {
		if !slices.Contains(v.Seal.Hidden, filepath.Join(root, want)) {
			t.Errorf("Hidden = %q, lacks %s", v.Seal.Hidden, want)
		}
	}
	// The platform's processes: this one (its environment holds a
	// secret) and its ancestors.
	var pids []string
	for pid := os.Getpid(); pid > 1; {
		pids = append(pids, fmt.Sprint(pid))
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			break
		}
		fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		fmt.Sscan(fields[1], &pid)
	}
	script := fmt.Sprintf(`cd %[1]s; cat platform/env/* platform-link/env/* bindings/*/* env_dir/* aws/credentials 2>/dev/null
find %[1]s -type f -exec cat {} + 2>/dev/null
for p in %[2]s; do cat /proc/$p/environ; ls /proc/$p/root%[1]s/platform/env; cat /proc/$p/root%[1]s/env_dir/*; done 2>/dev/null
echo; echo done`, root, strings.Join(pids, " "))
	cmd := v.Command("/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // as nixenv gives Nix
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), "done\n") {
		t.Fatalf("sh through %s: %v\n%.2000s", v.Through(), err, out)
	}
	for _, secret := range []string{"platform-secret-1", "binding-secret-2", "env-dir-secret-3", "credentials-secret-4", "environ-secret-5"} {
		if i := strings.Index(string(out), secret); i >= 0 {
			t.Errorf("a program run through %s read %s: ...%.300s", v.Through(), secret, out[max(0, i-150):])
		}
	}
	// The store is still there, and so is what was not hidden.
	if out, err := v.Command("cat", "/nix/store/marker-path/hello").CombinedOutput(); err != nil {
		t.Errorf("the store is not visible through the sealed view: %v\n%s", err, out)
	}
}

// TestHidingKeepsWhatTheBuildNeeds: a hidden path that holds the store or
// the working directory (/ holds both) is kept, and said so.
func TestHidingKeepsWhatTheBuildNeeds(t *testing.T) {
	nixDir, _ := storeWithMarker(t)
	wd, _ := os.Getwd()
	asked := map[string]bool{filepath.Dir(nixDir): true, filepath.Dir(wd): true, "/": true}
	var paths []string
	for p := range asked {
		paths = append(paths, p)
	}
	v, err := nixmount.Open(nixDir, nixmount.UserNS, nixmount.Hiding(paths...))
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Seal.Hidden) != 0 || len(v.Seal.Kept) != len(asked) {
		t.Fatalf("Seal = %+v; want all of %v kept", v.Seal, paths)
	}
	for _, k := range v.Seal.Kept {
		if !strings.Contains(k, "(it holds ") {
			t.Errorf("kept %q does not say why", k)
		}
	}
}

// TestNativeHiding runs the native strategy (the store bound at /nix in a
// mount namespace the test makes, as a native builder image has it): the
// secrets are hidden by a user and mount namespace that only hides.
func TestNativeHiding(t *testing.T) {
	if dir := os.Getenv("NIXMOUNT_TEST_NATIVE"); dir != "" {
		root := os.Getenv("NIXMOUNT_TEST_ROOT")
		v, err := nixmount.Open("/nix", nixmount.Native, nixmount.Hiding(strings.Fields(os.Getenv("NIXMOUNT_TEST_PATHS"))...))
		if err != nil {
			t.Fatal(err)
		}
		if v.Strategy != nixmount.Native {
			t.Fatalf("strategy %s", v.Strategy)
		}
		checkSealed(t, v, root)
		return
	}
	if os.Getuid() != 0 {
		testenv.Missing(t, "the native case binds a store at /nix in a mount namespace, as root")
	}
	if os.Getenv("NIXMOUNT_TEST_SECRET") != "" {
		t.Fatal("NIXMOUNT_TEST_SECRET is set, but not NIXMOUNT_TEST_NATIVE")
	}
	nixDir, _ := storeWithMarker(t)
	root, paths := secrets(t)
	if err := os.MkdirAll("/nix", 0o755); err != nil {
		t.Fatal(err)
	}
	reRun(t, "TestNativeHiding", "NIXMOUNT_TEST_NATIVE="+nixDir, "NIXMOUNT_TEST_ROOT="+root, "NIXMOUNT_TEST_PATHS="+strings.Join(paths, " "),
		"NIXMOUNT_TEST_SECRET=environ-secret-5")
}

// reRun runs the test binary's test name again with env added: in a mount
// namespace of its own where NIXMOUNT_TEST_NATIVE (if set, as root) is
// bound at /nix.
func reRun(t *testing.T, name string, env ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^"+name+"$", "-test.v")
	for _, kv := range env {
		if strings.HasPrefix(kv, "NIXMOUNT_TEST_NATIVE=") {
			cmd = exec.Command("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
				`mount --bind "$NIXMOUNT_TEST_NATIVE" /nix && exec "$0" -test.run "^$1\$" -test.v`, os.Args[0], name)
		}
	}
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s run again: %v\n%.4000s", name, err, out)
	}
}
