package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixbuild"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/substitute"
)

// method is one way of building the app cold: a /nix strategy, a cache
// transport, and who substitutes (Nix during nix-build, or ours first).
type method struct {
	Strategy nixmount.Strategy
	Cache    string // "http" or "file"; "nixpkgs" for the <nixpkgs> tarball
	Ours     bool
	// native is the native strategy, before its child process makes /nix
	// the Nix directory.
	native bool
}

func (m method) id() string {
	who := "nix"
	if m.Ours {
		who = "ours"
	}
	return fmt.Sprintf("%s/%s/%s", m.Strategy, m.Cache, who)
}

func (m method) String() string {
	if m.Cache == "nixpkgs" {
		if m.Ours {
			return fmt.Sprintf("%s, <nixpkgs> over http: ours, then evaluate", m.Strategy)
		}
		return fmt.Sprintf("%s, <nixpkgs> over http: Nix fetches on evaluation", m.Strategy)
	}
	if m.Ours {
		return fmt.Sprintf("%s, %s cache: ours, then nix-build", m.Strategy, m.Cache)
	}
	return fmt.Sprintf("%s, %s cache: nix-build substituting", m.Strategy, m.Cache)
}

// figures are one timed build.
type figures struct {
	wall, cpu, server time.Duration
	detail            string
}

// bench is what the methods share.
type bench struct {
	c       *closure
	http    *server
	source  nixinstall.Tarball
	tarball string // the Nix installer tarball source reads
	proot   string // the bundled proot, "" for the one on PATH
	jobs    int
	// nixexprs is the nixpkgs-shaped tarball, served beside the cache.
	nixexprs string
}

func (b *bench) cacheURL(kind string) string {
	if kind == "file" {
		return "file://" + b.c.cacheDir
	}
	return "http://" + b.http.addr
}

// run installs Nix into a fresh directory under dir (untimed), then times
// a cold build of the app with method m.
func (b *bench) run(ctx context.Context, m method, dir string, check bool) (figures, error) {
	if m.native {
		return b.runNative(m, dir, check)
	}
	if m.Cache == "nixpkgs" {
		return b.runNixpkgs(ctx, m, dir)
	}
	settings := nixinstall.Conf{Substituters: []string{b.cacheURL(m.Cache)}, TrustedPublicKeys: []string{b.c.public}}
	var opts []func(*nixmount.View)
	if m.Strategy == nixmount.PRoot && b.proot != "" {
		opts = append(opts, func(v *nixmount.View) { v.PRootPath, v.PRootBundled = b.proot, true })
	}
	nix, err := nixinstall.Ensure(filepath.Join(dir, "nix"), b.source, m.Strategy, settings, opts...)
	if err != nil {
		return figures{}, err
	}
	logFile, err := os.Create(filepath.Join(dir, "build.log"))
	if err != nil {
		return figures{}, err
	}
	defer logFile.Close()
	app := config.App{Dir: b.c.expr, NixFile: "hop3.nix"}
	cpu0, srv0 := childCPU(), procCPU(b.http.pid)
	start := time.Now()
	detail := ""
	if m.Ours {
		if detail, err = b.substitute(ctx, nix, app, settings, logFile); err != nil {
			return figures{}, err
		}
	}
	out, err := nixbuild.Build(nix, app, nixbuild.Options{}, logFile)
	if err != nil {
		return figures{}, err
	}
	f := figures{wall: time.Since(start), cpu: childCPU() - cpu0, server: procCPU(b.http.pid) - srv0, detail: detail}
	if check {
		closure, err := nix.Store().Requisites(out)
		if err != nil {
			return f, err
		}
		if n := len(closure); n < 100 {
			return f, fmt.Errorf("the app's runtime closure has %d paths", n)
		}
		if _, err := nix.Store().VerifyContents(); err != nil {
			return f, err
		}
	}
	return f, nil
}

// substitute is the pipeline's native substitution step: evaluate, then
// substitute what the build needs, as internal/pipeline does it.
func (b *bench) substitute(ctx context.Context, nix nixinstall.Nix, app config.App, s nixinstall.Conf, log io.Writer) (string, error) {
	start := time.Now()
	var eval time.Duration
	drv := func() (string, error) {
		defer func() { eval = time.Since(start) }()
		return nixbuild.Instantiate(nix, app)
	}
	cfg := substitute.Config{Substituters: s.AllSubstituters(), TrustedPublicKeys: s.AllTrustedPublicKeys(), Jobs: b.jobs}
	res, _, err := substitute.Before(ctx, nix.Store(), drv, cfg, log)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("eval %.2f s, substitute %.2f s (%d paths, %.0f MiB), then nix-build",
		eval.Seconds(), res.Elapsed.Seconds(), len(res.Installed), float64(res.Bytes)/(1<<20)), nil
}

// childCPU is the user+system time of this process and its finished
// children (Nix, proot, the namespace child).
func childCPU() time.Duration {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	t := func(r *syscall.Rusage) time.Duration { return time.Duration(r.Utime.Nano() + r.Stime.Nano()) }
	return t(&self) + t(&children)
}

// procCPU reads a running process's user+system time from /proc.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	var utime, stime int64
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}
