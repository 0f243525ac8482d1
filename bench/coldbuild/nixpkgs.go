package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/nixpkgs"
)

// makeNixpkgs writes a nixpkgs-shaped tarball, nixexprs.tar.xz, into dir
// (kept between runs): one top directory of files .nix files, about kib
// KiB each on average, in a tree like nixpkgs' pkgs/<category>/<name>/,
// and a default.nix that evaluates. A nixos-24.11 nixexprs.tar.xz holds
// about 40,000 files.
func makeNixpkgs(dir string, files int) (string, error) {
	out := filepath.Join(dir, fmt.Sprintf("nixexprs-%d.tar.xz", files))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	src := filepath.Join(dir, "nixexprs-src", "nixpkgs-synth")
	r := rand.New(rand.NewPCG(24, 11))
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "default.nix"), []byte("{ ... }: { synth = true; }\n"), 0o644); err != nil {
		return "", err
	}
	for i := range files {
		d := filepath.Join(src, "pkgs", fmt.Sprintf("cat-%d", i%40), fmt.Sprintf("pkg-%d", i/3))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "{ lib, stdenv, fetchurl }:\n\nstdenv.mkDerivation rec {\n  pname = \"pkg-%d\";\n", i)
		for n := 1 + r.IntN(120); n > 0; n-- {
			fmt.Fprintf(&b, "  attr%d = \"%x\"; # line %d of a package expression\n", n, r.Uint64(), n)
		}
		b.WriteString("}\n")
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d.nix", i%3)), []byte(b.String()), 0o644); err != nil {
			return "", err
		}
	}
	cmd := exec.Command("tar", "-cJf", out+".tmp", "-C", filepath.Dir(src), filepath.Base(src))
	cmd.Env = append(os.Environ(), "XZ_OPT=-T0")
	if o, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("tar: %v\n%s", err, o)
	}
	if err := os.RemoveAll(filepath.Dir(src)); err != nil {
		return "", err
	}
	return out, os.Rename(out+".tmp", out)
}

// runNixpkgs times making <nixpkgs> usable from a tarball served over
// HTTP (like a channel's nixexprs.tar.xz): Nix downloading and unpacking it
// itself on its first evaluation, or ours first (package nixpkgs, the
// pipeline's step), then the same evaluation.
func (b *bench) runNixpkgs(ctx context.Context, m method, dir string) (figures, error) {
	url := "http://" + b.http.addr + "/" + filepath.Base(b.nixexprs)
	var opts []func(*nixmount.View)
	if m.Strategy == nixmount.PRoot && b.proot != "" {
		opts = append(opts, func(v *nixmount.View) { v.PRootPath, v.PRootBundled = b.proot, true })
	}
	// Nix splits NIX_PATH at the port's colon (http://127.0.0.1 and
	// 36699/...), so Nix's own fetch is given the URL with -I; ours names
	// the unpacked store path in NIX_PATH, as the pipeline does.
	nix, err := nixinstall.Ensure(filepath.Join(dir, "nix"), b.source, m.Strategy, nixinstall.Conf{}, opts...)
	if err != nil {
		return figures{}, err
	}
	cpu0, srv0 := childCPU(), procCPU(b.http.pid)
	start := time.Now()
	detail := ""
	if m.Ours {
		res, err := nixpkgs.Fetch(ctx, nix.Store(), url, filepath.Join(nix.Dir, "var", "nixbp", "nixpkgs.json"), 5*time.Second)
		if err != nil {
			return figures{}, err
		}
		nix.Nixpkgs.Unpacked = res.StorePath
		detail = fmt.Sprintf("unpacked in %.2f s, then the evaluation", res.Elapsed.Seconds())
	}
	args := []string{"--eval", "-E", "(import <nixpkgs> { }).synth"}
	if !m.Ours {
		args = append(args, "-I", "nixpkgs="+url)
	}
	out, err := nix.Command("nix-instantiate", args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "true") {
		return figures{}, fmt.Errorf("evaluating <nixpkgs>: %v\n%s", err, out)
	}
	return figures{wall: time.Since(start), cpu: childCPU() - cpu0, server: procCPU(b.http.pid) - srv0, detail: detail}, nil
}
