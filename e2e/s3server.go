package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// S3Server is a real S3 server (versitygw, posix backend) on loopback.
type S3Server struct {
	Endpoint       string
	Access, Secret string
	Dir            string
	cmd            *exec.Cmd
}

// StartS3 starts versitygw serving dir, with the given buckets made.
func StartS3(versitygw, dir string, buckets ...string) (*S3Server, error) {
	for _, b := range buckets {
		if err := os.MkdirAll(filepath.Join(dir, b), 0o755); err != nil {
			return nil, err
		}
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &S3Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), Access: "nixbp-access", Secret: "nixbp-secret-never-logged", Dir: dir}
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
func (s *S3Server) Stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}
