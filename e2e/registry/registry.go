// Package registry is the end-to-end tests' OCI registry side: a real
// registry (CNCF distribution) started on loopback, whose storage and access
// log say what a build pushed and pulled, and the client's view of the images
// in it (a busybox run image pushed without Docker, an image pulled back,
// its layers named by the lifecycle's label). It depends on no other test
// package, so that the lifecycle workspace (package e2e), the Docker, client
// and Kubernetes tests share one registry.
package registry

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Registry is a real OCI registry (CNCF distribution) on loopback, its
// storage on the filesystem driver in a directory of the test's, its access
// log in a file, so that what it received can be counted from its side.
type Registry struct {
	// Host is 127.0.0.1:PORT, the registry part of image references.
	Host string
	// Storage is the filesystem driver's root directory.
	Storage string
	// Log is the registry's output, access log included.
	Log string
	cmd *exec.Cmd
}

// registryConfig is distribution's configuration: filesystem storage, the
// access log on, no auth (as a registry inside a cluster or CI runner)
// unless an htpasswd section is appended.
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
`

// StartRegistry writes a configuration under dir and starts the registry
// binary on a free loopback port, waiting until /v2/ answers.
func StartRegistry(bin, dir string) (*Registry, error) {
	return StartRegistryAuth(bin, dir, "", "")
}

// StartRegistryAuth is StartRegistry with htpasswd auth: only user and
// password are let in (none when user is empty).
func StartRegistryAuth(bin, dir, user, password string) (*Registry, error) {
	auth := ""
	if user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			return nil, err
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
			return nil, err
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: nixbp-e2e\n    path: %s\n", htpasswd)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &Registry{Host: "127.0.0.1:" + strconv.Itoa(port), Storage: filepath.Join(dir, "storage"),
		Log: filepath.Join(dir, "registry.log")}
	conf := filepath.Join(dir, "config.yml")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(registryConfig, r.Storage, r.Host)+auth), 0o644); err != nil {
		return nil, err
	}
	logFile, err := os.Create(r.Log)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	r.cmd = exec.Command(bin, "serve", conf)
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized && user != "" {
				return r, nil
			}
		}
		if time.Now().After(deadline) {
			r.Stop()
			log, _ := os.ReadFile(r.Log)
			return nil, fmt.Errorf("registry did not answer /v2/ on %s within 15 s\n%s", r.Host, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the registry.
func (r *Registry) Stop() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// Blobs lists the blobs in the registry's storage: digest -> size. It reads
// docker/registry/v2/blobs/sha256/<xx>/<hex>/data, where the filesystem
// driver keeps every blob once whatever the repositories referencing it.
func (r *Registry) Blobs() (map[string]int64, error) {
	root := filepath.Join(r.Storage, "docker", "registry", "v2", "blobs", "sha256")
	datas, err := filepath.Glob(filepath.Join(root, "*", "*", "data"))
	if err != nil {
		return nil, err
	}
	blobs := make(map[string]int64, len(datas))
	for _, d := range datas {
		fi, err := os.Stat(d)
		if err != nil {
			return nil, err
		}
		blobs["sha256:"+filepath.Base(filepath.Dir(d))] = fi.Size()
	}
	return blobs, nil
}

// Traffic is what the registry's access log shows from a line on.
type Traffic struct {
	// Uploaded are the blobs whose upload the registry completed (PUT, or a
	// monolithic POST, .../blobs/uploads/...?digest=D answered 201), even
	// when the registry already stored the blob: the client sent its bytes
	// again.
	Uploaded []string
	// ByCache are those of Uploaded the buildpack's OCI cache sent (its
	// user agent names nix-buildpack); the rest are the lifecycle's.
	ByCache []string
	// Mounted are blobs linked from another repository without a transfer.
	Mounted int
	// Downloaded are blob GETs answered 200, and their bytes.
	Downloaded      int
	DownloadedBytes int64
	// Manifests are manifests pushed.
	Manifests int
	// Lines is where the log ended, for the next call.
	Lines int
}

// accessLine is one line of the combined access log distribution writes:
// 127.0.0.1 - - [date] "METHOD URI HTTP/1.1" STATUS SIZE "referer" "agent".
var accessLine = regexp.MustCompile(`"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[0-9.]+" (\d+) (\d+|-)(?: "[^"]*" "([^"]*)")?`)

var uploadDigest = regexp.MustCompile(`[?&]digest=(sha256(?::|%3A)[0-9a-f]{64})`)

// Traffic reads the access log from line from.
func (r *Registry) Traffic(from int) (Traffic, error) {
	return r.TrafficOf(from)
}

// TrafficOf reads the access log from line from, counting only requests
// to the given repositories (all when none is given): what one build sent
// while others ran.
func (r *Registry) TrafficOf(from int, repos ...string) (Traffic, error) {
	f, err := os.Open(r.Log)
	if err != nil {
		return Traffic{}, err
	}
	defer f.Close()
	var t Traffic
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		t.Lines++
		if t.Lines <= from {
			continue
		}
		m := accessLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		method, uri, status := m[1], m[2], m[3]
		if !inRepos(uri, repos) {
			continue
		}
		size, _ := strconv.ParseInt(m[4], 10, 64)
		switch {
		case (method == "PUT" || method == "POST") && status == "201" && strings.Contains(uri, "/blobs/uploads/") &&
			!strings.Contains(uri, "mount="):
			if d := uploadDigest.FindStringSubmatch(uri); d != nil {
				digest := strings.Replace(d[1], "%3A", ":", 1)
				t.Uploaded = append(t.Uploaded, digest)
				if strings.Contains(m[5], "nix-buildpack") {
					t.ByCache = append(t.ByCache, digest)
				}
			}
		case method == "POST" && status == "201" && strings.Contains(uri, "mount="):
			t.Mounted++
		case method == "GET" && status == "200" && strings.Contains(uri, "/blobs/sha256:"):
			t.Downloaded++
			t.DownloadedBytes += size
		case method == "PUT" && status == "201" && strings.Contains(uri, "/manifests/"):
			t.Manifests++
		}
	}
	return t, sc.Err()
}

// BlobsContaining lists the stored blobs (gzip layers decompressed) in
// which needle occurs: every manifest, configuration and layer of every
// image the registry holds, app and cache images alike.
func (r *Registry) BlobsContaining(needle string) ([]string, error) {
	blobs, err := r.Blobs()
	if err != nil {
		return nil, err
	}
	var found []string
	for d := range blobs {
		p := filepath.Join(r.Storage, "docker", "registry", "v2", "blobs", "sha256", d[7:9], d[7:], "data")
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", d, err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				return nil, fmt.Errorf("%s: %w", d, err)
			}
		}
		if bytes.Contains(data, []byte(needle)) {
			found = append(found, d)
		}
	}
	return found, nil
}

// freePort returns a TCP port on loopback that nothing listens on now (as
// e2e.FreePort, which this package cannot import: e2e imports it).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// inRepos says whether the request URI (/v2/<repository>/...) is one of
// the repositories', or there are none to filter by.
func inRepos(uri string, repos []string) bool {
	if len(repos) == 0 {
		return true
	}
	for _, repo := range repos {
		if strings.HasPrefix(uri, "/v2/"+repo+"/blobs/") || strings.HasPrefix(uri, "/v2/"+repo+"/manifests/") {
			return true
		}
	}
	return false
}
