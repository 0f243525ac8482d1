package e2e_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// lockedBuffer is a compile's output, read while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// waitUntil polls cond; only a hang exceeds the bound (no timing is asserted).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Minute); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after 10 minutes", what)
		}
	}
}

// waitingApp is hello-web whose Nix build waits for the file flag, so the
// test decides when the first compile ends (Nix builds with the sandbox
// off, through the /nix view: the host's files are visible).
const waitingApp = `let bb = ./bb; in {
  package = derivation {
    name = "waiting-web";
    system = "x86_64-linux";
    builder = "${bb}/bin/sh";
    PATH = "${bb}/bin";
    args = [ "-c" ''
      set -e
      while [ ! -e FLAG ]; do sleep 0.2; done
      mkdir -p $out/www $out/hop3
      echo "Hello from waiting-web" > $out/www/index.html
      cat > $out/hop3/runtime.json <<EOF
      {"workers": {"web": "busybox httpd -f -p \"\$BIND_ADDRESS:\$PORT\" -h $out/www"}, "path": ["${bb}/bin"]}
      EOF
    '' ];
  };
}
`

// sharedCacheDir is issue 21's open question: two bin/compile runs on one
// CACHE_DIR at once. The first holds the store's build lock until its Nix
// build ends (held open by a flag file); the second must say it waits for
// that build, naming its pid, then build once the first is done. Both
// slugs serve, and the shared store verifies (every registered path on
// disk, contents as registered, every root valid).
func sharedCacheDir(t *testing.T, en herokuEnv) {
	cache := filepath.Join(openTempDir(t), "cache")
	flagDir := openTempDir(t)
	if err := os.Chmod(flagDir, 0o755); err != nil {
		t.Fatal(err)
	}
	flag := filepath.Join(flagDir, "go")
	src := filepath.Join(openTempDir(t), "waiting-web")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "hop3.nix"), []byte(strings.ReplaceAll(waitingApp, "FLAG", flag)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The first build's builder waits for a file the test makes outside
	// the store, which Nix's sandbox (on under userns) would hide from it.
	first := newAppAt(t, en, src, cache, map[string]string{"BP_NIX_SANDBOX": "false"}, uid, gid)
	second := newApp(t, en, "hello-web", cache, nil, uid, gid)

	start := func(cmd *exec.Cmd) (*lockedBuffer, chan error) {
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		return &out, done
	}
	firstCmd := first.CompileCommand(nil)
	out1, done1 := start(firstCmd)
	waitUntil(t, "the first compile to start its Nix build", func() bool {
		select {
		case err := <-done1:
			t.Fatalf("the first compile ended before its build could: %v\n%s", err, out1.String())
		default:
		}
		return strings.Contains(out1.String(), "Building hop3.nix with nix-build")
	})
	secondCmd := second.CompileCommand(nil)
	out2, done2 := start(secondCmd)
	waiting := "is in use by another build (pid " + itoa(firstCmd.Process.Pid) + " on "
	waitUntil(t, "the second compile to wait for the first", func() bool {
		select {
		case err := <-done2:
			t.Fatalf("the second compile ended while the first held the store: %v\n%s", err, out2.String())
		default:
		}
		return strings.Contains(out2.String(), waiting)
	})
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done1; err != nil {
		t.Fatalf("first compile: %v\n%s", err, out1.String())
	}
	if err := <-done2; err != nil {
		t.Fatalf("second compile: %v\n%s", err, out2.String())
	}
	for _, want := range []string{"is free again", "-----> Reusing Nix " + testenv.NixVersion, "Wrote Procfile"} {
		if !strings.Contains(out2.String(), want) {
			t.Errorf("second compile log lacks %q:\n%s", want, out2.String())
		}
	}
	verifyStore(t, en.buildpack, filepath.Join(cache, "nix"))
	serveSlug(t, first, "web", nil, "Hello from waiting-web\n")
	serveSlug(t, second, "web", nil, "Hello from hello-web, built by Nix\n")
}
