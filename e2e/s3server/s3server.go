// Package s3server starts the end-to-end tests' S3 server: a real one
// (versitygw, posix backend) on loopback, with its buckets made as
// directories and fixed test credentials, so that the binary caches the
// tests push to and read from are real S3.
package s3server

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// Server is a real S3 server (versitygw, posix backend) on loopback.
type Server struct {
	// Endpoint is http://127.0.0.1:PORT, the S3 endpoint URL.
	Endpoint string
	// Access and Secret are the credentials it lets in.
	Access, Secret string
	// Dir is the posix backend's root: one directory per bucket.
	Dir string
	cmd *exec.Cmd
}

// Start starts versitygw serving dir, with the given buckets made.
func Start(versitygw, dir string, buckets ...string) (*Server, error) {
	for _, b := range buckets {
		if err := os.MkdirAll(filepath.Join(dir, b), 0o755); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), Access: "nixbp-access", Secret: "nixbp-secret-never-logged", Dir: dir}
	s.cmd = exec.Command(versitygw, "--access", s.Access, "--secret", s.Secret, "--port", "127.0.0.1:"+strconv.Itoa(port), "--quiet", "posix", dir)
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("versitygw did not listen on %d within 10 s", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// freePort returns a TCP port on loopback that nothing listens on now (as
// e2e.FreePort; this package stands apart from e2e so that any test can
// start a server).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
