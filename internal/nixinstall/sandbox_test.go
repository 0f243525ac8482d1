package nixinstall_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestSandboxRefusesTheNetwork: a plain derivation that fetches from a
// loopback port the test serves fails to build in Nix's sandbox (auto turns
// it on through a user namespace) and builds, with the server's answer,
// without it (BP_NIX_SANDBOX=false).
func TestSandboxRefusesTheNetwork(t *testing.T) {
	tarball := testenv.NixTarball(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "answer from the loopback server")
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	app := t.TempDir()
	testenv.Busybox(t, app)
	expr := fmt.Sprintf(`let bb = ./bb; in derivation { name = "net"; system = "x86_64-linux";
	  builder = "${bb}/bin/sh"; PATH = "${bb}/bin";
	  args = [ "-c" "wget -q -O $out http://%s/" ]; }`, ln.Addr())
	if err := os.WriteFile(filepath.Join(app, "net.nix"), []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	// The new root is the userns view of an image whose / has no /nix (a
	// stock builder): its child enters it by pivot_root, as a chrooted
	// process could make no user namespace for the sandbox.
	for _, c := range []struct {
		name string
		opts []func(*nixmount.View)
	}{{"bind over /nix", nil}, {"new root", []func(*nixmount.View){nixmount.WithNewRoot}}} {
		t.Run(c.name, func(t *testing.T) { sandboxRefusesTheNetwork(t, tarball, app, c.opts) })
	}
}

func sandboxRefusesTheNetwork(t *testing.T, tarball, app string, opts []func(*nixmount.View)) {
	dir := filepath.Join(t.TempDir(), "nix")
	secret := t.TempDir() // hidden, so the view also runs in a PID namespace
	build := func(mode settings.Sandbox) (nixinstall.Nix, string, error) {
		n, err := nixinstall.Ensure(dir, source(t, tarball), nixmount.UserNS, nixinstall.Conf{Sandbox: mode}, append(opts, nixmount.Hiding(secret))...)
		if err != nil {
			t.Fatalf("Ensure(sandbox %s): %v", mode, err)
		}
		out, err := n.Command("nix-build", "--no-out-link", filepath.Join(app, "net.nix")).CombinedOutput()
		return n, string(out), err
	}

	n, out, err := build(settings.SandboxAuto)
	if !n.Sandbox.On {
		t.Fatalf("auto did not turn the sandbox on through userns: %s", n.Sandbox.Why)
	}
	t.Logf("/nix through %s; sandbox on (%s)", n.View.Through(), n.Sandbox.Why)
	if len(opts) > 0 && n.View.NewRootEntry != "pivot_root" {
		t.Errorf("the new root was entered by %q, want pivot_root", n.View.NewRootEntry)
	}
	if err == nil {
		t.Fatalf("the derivation reached the loopback server from the sandbox:\n%s", out)
	}
	if !strings.Contains(out, "Connection refused") && !strings.Contains(out, "can't connect") {
		t.Errorf("the sandboxed build failed otherwise than on the connection:\n%s", out)
	}

	n, out, err = build(settings.SandboxOff)
	if n.Sandbox.On || err != nil {
		t.Fatalf("without the sandbox (%+v): %v\n%s", n.Sandbox, err, out)
	}
	p := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	data, err := os.ReadFile(filepath.Join(dir, "store", strings.TrimPrefix(p, "/nix/store/")))
	if err != nil || string(data) != "answer from the loopback server" {
		t.Fatalf("%s = %q, %v", p, data, err)
	}
}

// TestSandboxUnderPRoot: proot gives Nix no namespaces, so auto builds
// without the sandbox and says why, and true fails naming the setting.
func TestSandboxUnderPRoot(t *testing.T) {
	testenv.Require(t, "proot")
	tarball := testenv.NixTarball(t)
	dir := filepath.Join(t.TempDir(), "nix")
	n, err := nixinstall.Ensure(dir, source(t, tarball), nixmount.PRoot, nixinstall.Conf{Sandbox: settings.SandboxAuto})
	if err != nil {
		t.Fatal(err)
	}
	if n.Sandbox.On || !strings.Contains(n.Sandbox.Why, "proot") {
		t.Fatalf("auto under proot: %+v", n.Sandbox)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "etc", "nix", "nix.conf"))
	if err != nil || !strings.Contains(string(conf), "sandbox = false\n") {
		t.Fatalf("nix.conf = %q, %v", conf, err)
	}
	_, err = nixinstall.Ensure(dir, source(t, tarball), nixmount.PRoot, nixinstall.Conf{Sandbox: settings.SandboxOn})
	if err == nil || !strings.Contains(err.Error(), "BP_NIX_SANDBOX=true, but Nix's sandbox cannot be had here") {
		t.Fatalf("true under proot: %v", err)
	}
}
