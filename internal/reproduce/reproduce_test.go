package reproduce_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/reproduce"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

func TestMain(m *testing.M) {
	nixmount.MaybeRunChild()
	os.Exit(m.Run())
}

// TestVerdicts builds three derivations with the real Nix and checks each:
// one writes a constant (reproducible), one writes random bytes (not
// deterministic, the rebuild kept as .check), and one fetched from a
// loopback server when built without the sandbox, which its sandboxed
// rebuild cannot reach (failed).
func TestVerdicts(t *testing.T) {
	tarball := testenv.NixTarball(t)
	// --keep-failed leaves the failed rebuilds' directories in TMPDIR.
	t.Setenv("TMPDIR", t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "served") }),
		ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	app := t.TempDir()
	testenv.Busybox(t, app)
	for name, script := range map[string]string{
		"constant": "echo constant > $out",
		"random":   "head -c 16 /dev/urandom > $out",
		"network":  "wget -q -O $out http://" + ln.Addr().String() + "/",
	} {
		expr := `let bb = ./bb; in derivation { name = "` + name + `"; system = "x86_64-linux";
		  builder = "${bb}/bin/sh"; PATH = "${bb}/bin"; args = [ "-c" "` + script + `" ]; }`
		if err := os.WriteFile(filepath.Join(app, name+".nix"), []byte(expr), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "nix")
	src := nixinstall.Tarball{Version: testenv.NixVersion, Checksum: "test",
		Open: func() (io.ReadCloser, error) { return os.Open(tarball) }}
	ensure := func(mode settings.Sandbox) nixinstall.Nix {
		n, err := nixinstall.Ensure(dir, src, nixmount.UserNS, nixinstall.Conf{Sandbox: mode})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := ensure(settings.SandboxOff)
	outputs := map[string]string{}
	for _, name := range []string{"constant", "random", "network"} {
		out, err := n.Command("nix-build", "--no-out-link", filepath.Join(app, name+".nix")).Output()
		if err != nil {
			t.Fatalf("nix-build %s: %v", name, err)
		}
		outputs[name] = strings.TrimSpace(string(out))
	}
	n = ensure(settings.SandboxAuto)
	if !n.Sandbox.On {
		t.Fatalf("no sandbox through userns: %s", n.Sandbox.Why)
	}
	for _, tc := range []struct {
		name string
		want reproduce.Verdict
	}{
		{"constant", reproduce.Reproducible},
		{"random", reproduce.NotDeterministic},
		{"network", reproduce.Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			res, err := reproduce.Check(n, outputs[tc.name], &log)
			if err != nil {
				t.Fatalf("Check: %v\n%s", err, log.String())
			}
			t.Logf("%s", res)
			if res.Verdict != tc.want || !res.Sandboxed || !strings.HasSuffix(res.Derivation, "-"+tc.name+".drv") {
				t.Fatalf("Check = %+v; want %s in the sandbox\n%s", res, tc.want, log.String())
			}
			if tc.want == reproduce.NotDeterministic {
				if _, err := os.Stat(filepath.Join(dir, "store", filepath.Base(outputs[tc.name])+".check")); err != nil {
					t.Errorf("the differing rebuild was not kept: %v", err)
				}
			}
		})
	}
	if _, err := reproduce.Check(n, "/nix/store/00000000000000000000000000000000-absent", io.Discard); err == nil ||
		!strings.Contains(err.Error(), "has no derivation in this store") {
		t.Errorf("Check of an absent path: %v", err)
	}
}
