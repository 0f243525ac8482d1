package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// The synthetic build closure, shaped like a Python web app's (the counts
// of a nixpkgs python3 app with a dozen dependencies, scaled): a python3
// path of thousands of small modules, python packages of a few hundred
// files each, C libraries of a few dozen, build-time tools (a compiler, a
// shell, coreutils-like paths) and a tail of tiny paths (hooks, wrappers).
// Every path is a derivation built from busybox; runtime references follow
// the shape (packages -> python3 -> libraries -> libc), and the app's own
// derivation takes them all as build inputs, as a buildPythonApplication
// takes its stdenv and dependencies. The draw is seeded: the same closure,
// the same store paths, every time.

// group is a set of files of one kind in one directory of a path.
type group struct {
	dir   string
	count int
	size  int64 // bytes per file
	kind  int   // 0 random, 1 text (python-like), 2 machine code (busybox slices)
}

// synthPath is one store path of the closure.
type synthPath struct {
	name   string
	groups []group
	refs   []int // indexes of paths it refers to at run time
	build  bool  // a build-time tool: not referred to by the app's output
}

// kind of path, with how many, files each and bytes each (medians).
type shape struct {
	prefix        string
	n             int
	files, mbytes float64
	build         bool
}

var shapes = []shape{
	{"libc", 1, 300, 30, false},
	{"python3", 1, 4500, 60, false},
	{"lib", 110, 25, 1.0, false},
	{"py", 70, 130, 1.6, false},
	{"tool", 90, 35, 0.8, true},
	{"compiler", 3, 600, 30, true},
	{"hook", 25, 2, 0.005, true},
}

// makePlan draws the closure: about paths store paths, files files and
// mib MiB of file data in all (the shapes scaled to those totals).
func makePlan(files, mib int) []synthPath {
	r := rand.New(rand.NewPCG(25, 2026))
	var baseFiles, baseBytes float64
	for _, s := range shapes {
		baseFiles += float64(s.n) * s.files
		baseBytes += float64(s.n) * s.mbytes
	}
	fScale, bScale := float64(files)/baseFiles, float64(mib)/baseBytes
	var paths []synthPath
	index := map[string][]int{}
	for _, s := range shapes {
		for i := range s.n {
			// Log-normal spread around the shape's median.
			nf := max(1, int(s.files*fScale*math.Exp(r.NormFloat64()*0.7)))
			bytes := s.mbytes * bScale * (1 << 20) * math.Exp(r.NormFloat64()*0.9)
			p := synthPath{name: fmt.Sprintf("%s-%d", s.prefix, i), build: s.build}
			if s.n == 1 {
				p.name = s.prefix
			}
			p.groups = groups(r, s.prefix, nf, int64(bytes))
			index[s.prefix] = append(index[s.prefix], len(paths))
			paths = append(paths, p)
		}
	}
	normalize(paths, files, int64(mib)<<20)
	libc, python := index["libc"][0], index["python3"][0]
	libs := index["lib"]
	for i := range paths {
		switch p := &paths[i]; {
		case i == libc:
		case strings.HasPrefix(p.name, "lib-"):
			p.refs = append(p.refs, libc)
			for range r.IntN(3) {
				if j := libs[r.IntN(len(libs))]; j < i {
					p.refs = append(p.refs, j)
				}
			}
		case p.name == "python3":
			p.refs = append(p.refs, libc, libs[0], libs[1], libs[2], libs[3])
		case strings.HasPrefix(p.name, "py-"):
			p.refs = append(p.refs, python)
			if r.IntN(3) == 0 {
				p.refs = append(p.refs, libs[r.IntN(len(libs))])
			}
		case strings.HasPrefix(p.name, "tool-"), strings.HasPrefix(p.name, "compiler-"):
			p.refs = append(p.refs, libc)
		}
	}
	return paths
}

// normalize scales the drawn files and bytes to the wanted totals.
func normalize(paths []synthPath, files int, bytes int64) {
	var nf, nb float64
	for _, p := range paths {
		for _, g := range p.groups {
			nf += float64(g.count)
			nb += float64(g.count) * float64(g.size)
		}
	}
	for i := range paths {
		for j := range paths[i].groups {
			g := &paths[i].groups[j]
			n := max(1, int(math.Round(float64(g.count)*float64(files)/nf)))
			g.size = max(16, int64(float64(g.size)*float64(g.count)/float64(n)*float64(bytes)/nb))
			g.count = n
		}
	}
}

// groups splits a path's files and bytes into a few groups: most files
// small text (modules, headers, docs), a few large binaries or data.
func groups(r *rand.Rand, prefix string, files int, bytes int64) []group {
	if files <= 2 {
		return []group{{dir: "nix-support", count: files, size: max(bytes/int64(files), 64), kind: 1}}
	}
	big := max(1, files/40)
	small := files - big
	smallBytes := bytes / 4
	var gs []group
	dirs := map[string][]string{
		"py":      {"lib/python3/site-packages/pkg", "lib/python3/site-packages/pkg/sub", "lib/python3/site-packages/pkg/__pycache__"},
		"python3": {"lib/python3/encodings", "lib/python3/email", "lib/python3/test", "lib/python3/__pycache__", "include/python3"},
	}[prefix]
	if dirs == nil {
		dirs = []string{"include", "share/doc", "share/locale/de/LC_MESSAGES", "lib/pkgconfig"}
	}
	for i, d := range dirs {
		n := small / len(dirs)
		if i == 0 {
			n += small % len(dirs)
		}
		if n > 0 {
			gs = append(gs, group{dir: d, count: n, size: max(smallBytes/int64(small), 64), kind: 1})
		}
	}
	kind := 2
	if r.IntN(3) == 0 {
		kind = 0
	}
	return append(gs, group{dir: "lib", count: big, size: max((bytes-smallBytes)/int64(big), 64), kind: kind})
}

// writeExpr writes default.nix and bb/ (busybox) into dir: the closure's
// derivations and an app (app.nix) whose build takes all of them as inputs
// and whose output refers to the runtime ones. salt changes only the app.
func writeExpr(dir string, paths []synthPath) error {
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
    args = ["-c" ("set -e\n" + script)];
  };
`)
	for i, p := range paths {
		fmt.Fprintf(&b, "  p%d = mk %q ''\n", i, p.name)
		for g, gr := range p.groups {
			fmt.Fprintf(&b, "    mkdir -p $out/%s\n", gr.dir)
			switch gr.kind {
			case 1: // many text files in one awk: lines that compress like source code
				fmt.Fprintf(&b, "    awk -v d=$out/%s -v n=%d -v s=%d -v seed=%d 'BEGIN { for (i = 0; i < n; i++) { f = d \"/m\" i \".py\"; w = 0; while (w < s) { l = sprintf(\"def f%%d_%%d(x): return x * %%d  # %%d\", seed, i, w, w * 7919 %% 104729); print l > f; w += length(l) + 1 } close(f) } }'\n",
					gr.dir, gr.count, gr.size, i*100+g)
			case 0:
				fmt.Fprintf(&b, "    for i in $(seq %d); do head -c %d /dev/urandom > $out/%s/r$i.so; done\n", gr.count, gr.size, gr.dir)
			case 2:
				fmt.Fprintf(&b, "    for i in $(seq %d); do while cat ${bb}/bin/busybox; do :; done | tail -c +$((i * 4099 %% 900000 + 1)) | head -c %d > $out/%s/lib$i.so; chmod +x $out/%s/lib$i.so; done\n",
					gr.count, gr.size, gr.dir, gr.dir)
			}
		}
		var refs []string
		for _, r := range p.refs {
			refs = append(refs, fmt.Sprintf("${p%d}", r))
		}
		fmt.Fprintf(&b, "    mkdir -p $out/nix-support; echo %s > $out/nix-support/propagated\n  '';\n", strings.Join(refs, " "))
	}
	b.WriteString("  all = [")
	for i := range paths {
		fmt.Fprintf(&b, " p%d", i)
	}
	b.WriteString(" ];\nin all\n")
	if err := os.WriteFile(filepath.Join(dir, "deps.nix"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return nil
}

// writeApp writes the app's expression into dir (beside deps.nix): a
// derivation that takes every path as a build input, builds in a moment,
// and refers to the runtime ones; salt makes another app.
func writeApp(dir string, paths []synthPath, salt string) error {
	var runtime, buildOnly []string
	for i, p := range paths {
		if p.build {
			buildOnly = append(buildOnly, fmt.Sprintf("(builtins.elemAt deps %d)", i))
		} else {
			runtime = append(runtime, fmt.Sprintf("(builtins.elemAt deps %d)", i))
		}
	}
	expr := fmt.Sprintf(`let
  deps = import ./deps.nix;
  bb = ./bb;
in {
  package = derivation {
    name = "app"; system = "x86_64-linux"; builder = "${bb}/bin/sh"; PATH = "${bb}/bin";
    runtime = [ %s ];
    buildOnly = [ %s ];
    args = ["-c" "mkdir -p $out/bin; echo $runtime > $out/env; echo %s > $out/salt; ls $buildOnly > /dev/null"];
  };
}
`, strings.Join(runtime, " "), strings.Join(buildOnly, " "), salt)
	return os.WriteFile(filepath.Join(dir, "hop3.nix"), []byte(expr), 0o644)
}
