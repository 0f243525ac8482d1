package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// nativeRequest is what a native-strategy child needs of the bench.
type nativeRequest struct {
	Method   method
	Dir      string
	Check    bool
	Expr     string
	CacheDir string
	Public   string
	HTTPAddr string
	HTTPPid  int
	Tarball  string
	Version  string
	PRoot    string
	Jobs     int
	Nixexprs string
}

// nativeFigures is what the child measured.
type nativeFigures struct {
	Wall, CPU, Server time.Duration
	Detail, Err       string
}

// runNative runs method m in a child process with a private mount
// namespace in which /nix is the fresh Nix directory, as an image with a
// native /nix shows it (needs root, for the mount).
func (b *bench) runNative(m method, dir string, check bool) (figures, error) {
	if err := os.MkdirAll(filepath.Join(dir, "nix", "store"), 0o755); err != nil {
		return figures{}, err
	}
	req, err := json.Marshal(nativeRequest{Method: m, Dir: dir, Check: check, Expr: b.c.expr, CacheDir: b.c.cacheDir, Public: b.c.public, HTTPAddr: b.http.addr, HTTPPid: b.http.pid,
		Tarball: b.tarball, Version: b.source.Version, PRoot: b.proot, Jobs: b.jobs, Nixexprs: b.nixexprs})
	if err != nil {
		return figures{}, err
	}
	self, err := os.Executable()
	if err != nil {
		return figures{}, err
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", self, "native-child", string(req))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return figures{}, fmt.Errorf("the native child failed: %v", err)
	}
	var f nativeFigures
	if err := json.Unmarshal(out, &f); err != nil {
		return figures{}, fmt.Errorf("the native child printed %q", out)
	}
	if f.Err != "" {
		return figures{}, fmt.Errorf("%s", f.Err)
	}
	return figures{wall: f.Wall, cpu: f.CPU, server: f.Server, detail: f.Detail}, nil
}

// nativeChild is the child of runNative: /nix becomes the request's Nix
// directory, then the method runs as in the parent.
func nativeChild(arg string) error {
	var req nativeRequest
	if err := json.Unmarshal([]byte(arg), &req); err != nil {
		return err
	}
	nixDir := filepath.Join(req.Dir, "nix")
	if err := syscall.Mount(nixDir, "/nix", "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("unable to bind %s at /nix (the native strategy needs root)\n%w", nixDir, err)
	}
	b := &bench{c: &closure{expr: req.Expr, cacheDir: req.CacheDir, public: req.Public}, http: &server{addr: req.HTTPAddr, pid: req.HTTPPid}, proot: req.PRoot, jobs: req.Jobs, nixexprs: req.Nixexprs,
		tarball: req.Tarball, source: nixinstall.Tarball{Version: req.Version, Checksum: "bench",
			Open: func() (io.ReadCloser, error) { return os.Open(req.Tarball) }}}
	m := req.Method
	m.native = false
	f, err := b.run(context.Background(), m, req.Dir, req.Check)
	res := nativeFigures{Wall: f.wall, CPU: f.cpu, Server: f.server, Detail: f.detail}
	if err != nil {
		res.Err = err.Error()
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
