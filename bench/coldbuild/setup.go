package main

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
)

// closure is the synthetic build closure, built once into a chroot store
// with the host's Nix and pushed to a signed binary cache directory.
type closure struct {
	expr     string // deps.nix, hop3.nix and bb/
	root     string // chroot store holding the built paths
	cacheDir string // the binary cache (file://), signed
	public   string // the key that signed it
	paths    []string
	narBytes int64
	zstd     int64
	files    int
}

// prepare builds the closure (kept in dir between runs: a later run with
// the same plan reuses it) and its signed cache.
func prepare(ctx context.Context, dir string, plan []synthPath) (*closure, error) {
	c := &closure{expr: filepath.Join(dir, "expr"), root: filepath.Join(dir, "store"), cacheDir: filepath.Join(dir, "cache")}
	if err := writeExpr(c.expr, plan); err != nil {
		return nil, err
	}
	if err := writeApp(c.expr, plan, "v1"); err != nil {
		return nil, err
	}
	start := time.Now()
	out, err := command("nix-build", "--store", c.root, "--max-jobs", strconv.Itoa(runtime.NumCPU()), "--no-out-link",
		filepath.Join(c.expr, "deps.nix"))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "synthetic closure built in %.1f s\n", time.Since(start).Seconds())
	src := nixstore.Host(c.root, nil)
	if c.paths, err = src.Requisites(strings.Fields(out)...); err != nil {
		return nil, err
	}
	infos, err := src.Infos(c.paths)
	if err != nil {
		return nil, err
	}
	for _, i := range infos {
		c.narBytes += int64(i.NarSize)
	}
	for _, p := range c.paths {
		_ = filepath.WalkDir(filepath.Join(c.root, p), func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				c.files++
			}
			return nil
		})
	}
	sk, err := signingKey(dir)
	if err != nil {
		return nil, err
	}
	c.public = sk.PublicKey()
	if err := os.MkdirAll(c.cacheDir, 0o755); err != nil {
		return nil, err
	}
	cc, err := cache.Open(ctx, "file://"+c.cacheDir, cache.Options{SecretKey: sk})
	if err != nil {
		return nil, err
	}
	res, err := cc.Push(ctx, infos, filepath.Join(c.root, "nix", "store"))
	if err != nil {
		return nil, err
	}
	if len(res.Failed) > 0 {
		return nil, fmt.Errorf("push failed: %v", res.Warnings)
	}
	err = filepath.WalkDir(filepath.Join(c.cacheDir, "nar"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			c.zstd += fi.Size()
		}
		return err
	})
	return c, err
}

// signingKey is the cache's key, made once by Nix and kept in dir.
func signingKey(dir string) (*narinfo.SecretKey, error) {
	sec := filepath.Join(dir, "key.sec")
	if _, err := os.Stat(sec); err != nil {
		if _, err := command("nix-store", "--generate-binary-cache-key", "coldbuild-bench-1", sec, sec+".pub"); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(sec)
	if err != nil {
		return nil, err
	}
	return narinfo.ParseSecretKey(string(data))
}

// serve is the child process that serves a binary cache directory over
// HTTP on loopback, shaped like cache.nixos.org (its nix-cache-info, narinfos
// as text/x-nix-narinfo, NARs as application/x-nix-nar), printing its
// address.
func serve(dir string) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(l.Addr().String())
	files := http.FileServer(http.Dir(dir))
	return http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ".narinfo"):
			w.Header().Set("Content-Type", "text/x-nix-narinfo")
		case strings.HasPrefix(r.URL.Path, "/nar/"):
			w.Header().Set("Content-Type", "application/x-nix-nar")
		}
		files.ServeHTTP(w, r)
	}))
}

// server is the running HTTP cache.
type server struct {
	cmd  *exec.Cmd
	addr string
	pid  int
}

// startServer starts this program as the HTTP cache server for dir.
func startServer(dir string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "serve", dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("the cache server did not start: %v", err)
	}
	return &server{cmd: cmd, addr: strings.TrimSpace(line), pid: cmd.Process.Pid}, nil
}

func (s *server) stop() {
	if s != nil && s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// command runs a host program with the bench's Nix configuration and
// returns its stdout; its stderr goes into the error.
func command(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}
