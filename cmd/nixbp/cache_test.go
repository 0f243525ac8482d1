package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// cacheFixture builds, with the real Nix into a chroot store, a path that
// refers to busybox, and returns the store root and a result link to it.
func cacheFixture(t *testing.T) (root, result string) {
	t.Helper()
	for _, tool := range []string{"nix-build", "nix-store"} {
		testenv.Require(t, tool)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		testenv.Missing(t, "/bin/busybox (apt-get install busybox-static)")
	}
	// No substituters (each build would wait for cache.nixos.org), no
	// build users (the chroot store belongs to whoever runs the test).
	t.Setenv("NIX_CONFIG", "substituters =\nbuild-users-group =\nsandbox = false")
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/src/bb/bin", 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "", "cp", "/bin/busybox", dir+"/src/bb/bin/busybox")
	if err := os.Symlink("busybox", dir+"/src/bb/bin/sh"); err != nil {
		t.Fatal(err)
	}
	expr := `let bb = ./bb; in derivation {
  name = "hello"; system = "x86_64-linux"; builder = "${bb}/bin/sh"; PATH = "${bb}/bin";
  args = ["-c" "mkdir -p $out/bin; echo hi > $out/f; ln -s ${bb}/bin/busybox $out/bin/bb"];
}`
	if err := os.WriteFile(dir+"/src/default.nix", []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	root, result = dir+"/store", dir+"/result"
	run(t, "", "nix-build", "--store", root, "-o", result, dir+"/src/default.nix")
	t.Cleanup(func() { _ = exec.Command("chmod", "-R", "u+w", dir).Run() })
	return root, result
}

func run(t *testing.T, stdin, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func runCacheCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runCache(args, &stdout, &stderr)
	t.Logf("nixbp cache %s:\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	return stdout.String(), err
}

func TestCacheCommands(t *testing.T) {
	root, result := cacheFixture(t)
	top := run(t, "", "readlink", result)
	top = strings.TrimSpace(top)
	closure := strings.Fields(run(t, "", "nix-store", "--store", root, "-qR", top))
	keys := t.TempDir()
	run(t, "", "nix-store", "--generate-binary-cache-key", "cli-test-1", keys+"/sec", keys+"/pub")
	pub, _ := os.ReadFile(keys + "/pub")
	dir := t.TempDir()
	t.Setenv("BP_NIX_CACHE", "file://"+dir)

	out, err := runCacheCmd(t, "push", "--store", root, "--secret-key-file", keys+"/sec", result)
	if err != nil || !strings.Contains(out, "pushed 2 store paths") {
		t.Fatalf("push: %q, %v", out, err)
	}
	out, err = runCacheCmd(t, "push", "--store", root, top)
	if err != nil || !strings.Contains(out, "pushed 0 store paths") || !strings.Contains(out, "2 already there") {
		t.Fatalf("second push: %q, %v", out, err)
	}
	out, err = runCacheCmd(t, "ls")
	if err != nil || strings.Count(out, "\tzstd\tcli-test-1\n") != 2 || !strings.Contains(out, top+"\t") {
		t.Fatalf("ls: %q, %v", out, err)
	}
	out, err = runCacheCmd(t, "verify", "--trusted-public-key", string(pub))
	if err != nil || !strings.Contains(out, "checked 2 store paths") {
		t.Fatalf("verify: %q, %v", out, err)
	}

	dest := t.TempDir()
	if err := os.MkdirAll(dest+"/nix/store", 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BP_NIX_TRUSTED_PUBLIC_KEYS", string(pub))
	out, err = runCacheCmd(t, "pull", "--store", dest, top)
	if err != nil || !strings.Contains(out, "pulled 2 store paths") {
		t.Fatalf("pull: %q, %v", out, err)
	}
	for _, p := range closure {
		want := run(t, "", "nix-store", "--store", root, "-q", "--hash", p)
		if got := run(t, "", "nix-store", "--store", dest, "-q", "--hash", p); got != want {
			t.Errorf("%s: hash %s after pull, want %s", p, got, want)
		}
	}
	run(t, "", "nix-store", "--store", dest, "--verify", "--check-contents")
	out, err = runCacheCmd(t, "pull", "--store", dest, top)
	if err != nil || !strings.Contains(out, "pulled 0 store paths") {
		t.Fatalf("pull again: %q, %v", out, err)
	}

	// A corrupt NAR: verify names it and fails.
	nars, _ := filepath.Glob(dir + "/nar/*.nar.zst")
	for _, n := range nars {
		data, _ := os.ReadFile(n)
		data[len(data)/2] ^= 0xff
		_ = os.WriteFile(n, data, 0o644)
	}
	out, err = runCacheCmd(t, "verify")
	if err == nil || strings.Count(out, "bad\t") != 2 {
		t.Fatalf("verify of a corrupt cache: %q, %v", out, err)
	}
}

// TestCachePushPullS3 runs push and pull against a real S3 server with the
// old buildpacks' variables.
func TestCachePushPullS3(t *testing.T) {
	root, result := cacheFixture(t)
	bin := testenv.Require(t, "versitygw")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	data := t.TempDir()
	if err := os.Mkdir(data+"/bucket", 0o755); err != nil {
		t.Fatal(err)
	}
	gw := exec.Command(bin, "--access", "AKcli", "--secret", "SKcli-secret", "--port", addr, "--quiet", "posix", data)
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Process.Kill(); _ = gw.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("versitygw did not start")
		}
	}
	t.Setenv("BP_NIX_CACHE", "")
	t.Setenv("NIX_S3_BUCKET", "bucket")
	t.Setenv("NIX_S3_KEY", "AKcli")
	t.Setenv("NIX_S3_SECRET", "SKcli-secret")
	t.Setenv("NIX_APP_NAME", "apps")
	endpoint := "--cache=s3://bucket/apps?endpoint=http://" + addr + "&region=us-east-1"
	out, err := runCacheCmd(t, "push", endpoint, "--store", root, result)
	if err != nil || !strings.Contains(out, "pushed 2 store paths") {
		t.Fatalf("push: %q, %v", out, err)
	}
	dest := t.TempDir()
	if err := os.MkdirAll(dest+"/nix/store", 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = runCacheCmd(t, "pull", endpoint, "--store", dest, result)
	if err != nil || !strings.Contains(out, "pulled 2 store paths") {
		t.Fatalf("pull: %q, %v", out, err)
	}
	run(t, "", "nix-store", "--store", dest, "--verify", "--check-contents")

	t.Setenv("NIX_S3_SECRET", "wrong-secret-Qx81")
	dest = t.TempDir()
	if err := os.MkdirAll(dest+"/nix/store", 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = runCache([]string{"pull", endpoint, "--store", dest, result}, &stdout, &stderr)
	all := stdout.String() + stderr.String()
	if err == nil || !strings.Contains(err.Error(), "not in the cache or could not be fetched") ||
		!strings.Contains(all, "access denied") || strings.Contains(all+err.Error(), "wrong-secret-Qx81") {
		t.Fatalf("pull with a wrong secret: %q, %v", all, err)
	}
}

// TestCachePushPullOCI pushes to and pulls from a registry that wants a
// password, given as docker login leaves it (a docker config), then with a
// wrong one: refused, the password nowhere in the output.
func TestCachePushPullOCI(t *testing.T) {
	root, result := cacheFixture(t)
	const password = "cli-reg-pass-7Kq2"
	r := testenv.StartRegistry(t, "ci", password)
	t.Setenv("BP_NIX_CACHE", "oci://"+r.Host+"/team/cache")
	t.Setenv("CNB_REGISTRY_AUTH", "")
	docker := t.TempDir()
	t.Setenv("DOCKER_CONFIG", docker)
	t.Setenv("HOME", t.TempDir())
	login := func(pw string) {
		auth := base64.StdEncoding.EncodeToString([]byte("ci:" + pw))
		if err := os.WriteFile(docker+"/config.json", []byte(`{"auths":{"`+r.Host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	login(password)
	out, err := runCacheCmd(t, "push", "--store", root, result)
	if err != nil || !strings.Contains(out, "pushed 2 store paths") {
		t.Fatalf("push: %q, %v", out, err)
	}
	out, err = runCacheCmd(t, "ls")
	if err != nil || strings.Count(out, "/nix/store/") != 2 {
		t.Fatalf("ls: %q, %v", out, err)
	}
	dest := t.TempDir()
	if err := os.MkdirAll(dest+"/nix/store", 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = runCacheCmd(t, "pull", "--store", dest, result)
	if err != nil || !strings.Contains(out, "pulled 2 store paths") {
		t.Fatalf("pull: %q, %v", out, err)
	}
	run(t, "", "nix-store", "--store", dest, "--verify", "--check-contents")

	login("wrong-pass-Zz9")
	dest = t.TempDir()
	if err := os.MkdirAll(dest+"/nix/store", 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = runCache([]string{"pull", "--store", dest, result}, &stdout, &stderr)
	all := stdout.String() + stderr.String() + fmt.Sprint(err)
	if err == nil || !strings.Contains(all, "access denied") || strings.Contains(all, "wrong-pass-Zz9") || strings.Contains(all, password) {
		t.Fatalf("pull with a wrong password: %s", all)
	}
}

func TestCacheUsageErrors(t *testing.T) {
	t.Setenv("BP_NIX_CACHE", "")
	t.Setenv("NIX_S3_BUCKET", "")
	for _, tt := range []struct {
		args []string
		err  string
	}{
		{nil, "needs a command"},
		{[]string{"ls"}, "no cache; pass --cache URL or set BP_NIX_CACHE"},
		{[]string{"frob", "--cache", "file:///x"}, `unknown command "frob"`},
		{[]string{"push", "--cache", "file:///x"}, "needs store paths"},
		{[]string{"ls", "extra", "--cache", "file:///x"}, "takes no arguments"},
		{[]string{"ls", "--cache", "gopher://x"}, "unsupported scheme"},
		{[]string{"push", "/nix/store/x", "--cache", "file:///x", "--secret-key-file", "/nonexistent"}, "unable to read the secret key file"},
		{[]string{"ls", "--bogus"}, "flag provided but not defined"},
	} {
		if _, err := runCacheCmd(t, tt.args...); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("nixbp cache %v: %v, want an error containing %q", tt.args, err, tt.err)
		}
	}
	var out bytes.Buffer
	if err := runCache([]string{"--help"}, &out, &out); err != nil || !strings.Contains(out.String(), "usage: nixbp cache") {
		t.Errorf("--help: %v %q", err, out.String())
	}
}
