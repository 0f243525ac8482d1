package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Registry is a real OCI registry (CNCF distribution, scripts/tools.sh
// registry) on a loopback port, its storage in a test directory, its log
// (access log included) in a file. With a user, it refuses anonymous
// requests (htpasswd auth).
type Registry struct {
	// Host is 127.0.0.1:PORT.
	Host string
	// Storage is the filesystem driver's root directory.
	Storage string
	// Log is the registry's output.
	Log string
	cmd *exec.Cmd
}

const registryConfig = `version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`

// StartRegistry starts a registry for the test, stopped when it ends.
// user and password, when user is not empty, are the only credentials it
// accepts (htpasswd, bcrypt).
func StartRegistry(t testing.TB, user, password string) *Registry {
	t.Helper()
	bin := Require(t, "registry")
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Registry{Host: l.Addr().String(), Storage: filepath.Join(dir, "storage"), Log: filepath.Join(dir, "registry.log")}
	l.Close()
	auth := ""
	if user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: nixbp-test\n    path: %s\n", htpasswd)
	}
	conf := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(registryConfig, r.Storage, r.Host, auth)), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(r.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	r.cmd = exec.Command(bin, "serve", conf)
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return r
			}
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(r.Log)
			t.Fatalf("the registry did not answer /v2/ on %s within 30 s\n%s", r.Host, data)
		}
	}
}

// Stop kills the registry.
func (r *Registry) Stop() {
	if r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// BlobPath is where the registry keeps a blob (sha256:<hex>).
func (r *Registry) BlobPath(digest string) string {
	hex := digest[len("sha256:"):]
	return filepath.Join(r.Storage, "docker", "registry", "v2", "blobs", "sha256", hex[:2], hex, "data")
}
