package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// The synthetic closure: n store paths built by Nix from busybox, sized
// like a real application closure (many small paths, some medium, a few
// large ones), with files from a few bytes to tens of MiB, about half of
// the bytes incompressible (random, like compressed assets), the rest text
// and machine code. Path i refers to paths i-1 and i/2, and a top path
// refers to all, so the closure has a real reference graph.

const synthPaths = 199 // plus busybox and the top path: 201

// synthFile is one file of a synthetic path, made in the builder.
type synthFile struct {
	dir, name string
	size      int64
	kind      int // 0 random, 1 text, 2 machine code (slices of busybox)
}

// plan draws the files of every path, scaled so the closure holds about
// totalMiB of file data. The draw is seeded: the same closure every time.
func plan(totalMiB int) [][]synthFile {
	r := rand.New(rand.NewPCG(7, 42))
	weights := make([]float64, synthPaths)
	var sum float64
	for i := range weights {
		// Log-uniform from 4 KiB to 64 MiB: most paths are small.
		weights[i] = math.Exp(math.Log(4<<10) + r.Float64()*(math.Log(64<<20)-math.Log(4<<10)))
		sum += weights[i]
	}
	dirs := []string{"lib", "bin", "share/doc", "share/locale/de", "include", "lib/python3/site-packages"}
	paths := make([][]synthFile, synthPaths)
	for i := range paths {
		size := int64(weights[i] / sum * float64(totalMiB<<20))
		nfiles := 1 + int(min(size/(192<<10), 80)) + r.IntN(12)
		// Split size over the files, log-uniformly, so each path has a few
		// big files and many small ones.
		parts := make([]float64, nfiles)
		var ps float64
		for j := range parts {
			parts[j] = math.Exp(r.Float64() * 7)
			ps += parts[j]
		}
		for j := range parts {
			kind := 0
			switch x := r.Float64(); {
			case x < 0.35:
				kind = 1
			case x < 0.5:
				kind = 2
			}
			paths[i] = append(paths[i], synthFile{
				dir:  dirs[r.IntN(len(dirs))],
				name: fmt.Sprintf("f%d-%d", i, j),
				size: max(1, int64(parts[j]/ps*float64(size))),
				kind: kind,
			})
		}
	}
	return paths
}

// writeSynthNix writes default.nix and bb/ (busybox) for the closure into
// dir; topSalt changes only the top path, for the one-path-change push.
func writeSynthNix(dir string, paths [][]synthFile, topSalt string) error {
	if err := os.MkdirAll(filepath.Join(dir, "bb", "bin"), 0o755); err != nil {
		return err
	}
	if _, err := os.Lstat(filepath.Join(dir, "bb", "bin", "sh")); err != nil {
		bb, err := os.ReadFile("/bin/busybox")
		if err != nil {
			return fmt.Errorf("the benchmark builds its closure with busybox (apt-get install busybox-static)\n%w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "bb", "bin", "busybox"), bb, 0o755); err != nil {
			return err
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bb", "bin", "sh")); err != nil {
			return err
		}
	}
	var b strings.Builder
	b.WriteString(`let
  bb = ./bb;
  mk = name: script: derivation {
    inherit name; system = "x86_64-linux"; builder = "${bb}/bin/sh"; PATH = "${bb}/bin";
    args = ["-c" script];
  };
`)
	for i, files := range paths {
		fmt.Fprintf(&b, "  p%d = mk \"synth-%d\" ''\n", i, i)
		b.WriteString("    set -e\n")
		made := map[string]bool{}
		for _, f := range files {
			if !made[f.dir] {
				fmt.Fprintf(&b, "    mkdir -p $out/%s\n", f.dir)
				made[f.dir] = true
			}
			out := "$out/" + f.dir + "/" + f.name
			switch f.kind {
			case 0:
				fmt.Fprintf(&b, "    head -c %d /dev/urandom > %s\n", f.size, out)
			case 1:
				// Numbered lines: text that compresses about 4:1 with zstd.
				fmt.Fprintf(&b, "    seq %d 3 999999999 | head -c %d > %s\n", f.size%100000, f.size, out)
			case 2:
				fmt.Fprintf(&b, "    while cat ${bb}/bin/busybox; do :; done | tail -c +%d | head -c %d > %s; chmod +x %s\n",
					1+f.size%1000000, f.size, out, out)
			}
		}
		fmt.Fprintf(&b, "    mkdir -p $out/nix-support\n")
		var refs []string
		if i > 0 {
			refs = append(refs, fmt.Sprintf("${p%d}", i-1))
		}
		if i > 1 {
			refs = append(refs, fmt.Sprintf("${p%d}", i/2))
		}
		fmt.Fprintf(&b, "    echo ${bb} %s > $out/nix-support/propagated\n", strings.Join(refs, " "))
		b.WriteString("  '';\n")
	}
	b.WriteString("in mk \"synth-top\" ''\n  mkdir -p $out\n  echo " + topSalt)
	for i := range paths {
		fmt.Fprintf(&b, " ${p%d}", i)
	}
	b.WriteString(" > $out/refs\n''\n")
	return os.WriteFile(filepath.Join(dir, "default.nix"), []byte(b.String()), 0o644)
}
