// Command coldbuild benchmarks a cold build of an app whose whole build
// closure is in a binary cache (a synthetic closure shaped like a Python
// app's, signed, served on loopback over HTTP like cache.nixos.org, or as a
// file:// directory), on each /nix strategy: Nix substituting everything
// itself during nix-build, against our native substitution first (the
// NARs written by this process, with no /nix view), then nix-build for
// what is left. It prints every round, the medians and the ratios against
// issue 25's targets.
//
//	go run ./bench/coldbuild [-rounds 3] [-strategies proot,userns,native] [-cache http] [-files 20000 -mib 400] [-nixpkgs 40000]
//
// -nixpkgs N also times <nixpkgs> from an N-file tarball over HTTP: Nix
// fetching and unpacking it on evaluation, against ours (internal/nixpkgs).
//
// Needs root (the userns strategy runs as any user; proot too), nix-bin
// (to build the closure once into bench/out/coldbuild), busybox-static, and
// the Nix tarball fixture and bundled proot of scripts/setup.sh
// (NIXBP_TOOLS_DIR).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

func main() {
	nixmount.MaybeRunChild()
	if len(os.Args) > 2 && os.Args[1] == "native-child" {
		if err := nativeChild(os.Args[2]); err != nil {
			fmt.Fprintf(os.Stderr, "native child: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 2 && os.Args[1] == "serve" {
		if err := serve(os.Args[2]); err != nil {
			fmt.Fprintf(os.Stderr, "serve: %v\n", err)
			os.Exit(1)
		}
		return
	}
	dir := flag.String("dir", filepath.Join(testenv.RepoRoot(), "bench", "out", "coldbuild"), "work directory (the closure and its cache are kept here between runs)")
	rounds := flag.Int("rounds", 3, "interleaved rounds of every method")
	strategies := flag.String("strategies", "proot,userns", "the /nix strategies to build under")
	caches := flag.String("cache", "http", "cache transports: http (shaped like cache.nixos.org), file, or both (http,file)")
	files := flag.Int("files", 20000, "files in the closure")
	mib := flag.Int("mib", 400, "MiB of file data in the closure")
	jobs := flag.Int("jobs", 0, "NARs fetched at once by ours (0: the default)")
	nixexprs := flag.Int("nixpkgs", 0, "also time <nixpkgs> from a tarball of this many files over HTTP (a nixos-24.11 channel has about 40000): Nix unpacking it vs ours")
	only := flag.String("only", "", "run only the methods whose name contains this (e.g. nixpkgs, proot)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of this process during the timed runs")
	keep := flag.Bool("keep", false, "keep the scratch directories")
	flag.Parse()
	if err := run(context.Background(), *dir, *rounds, strings.Split(*strategies, ","), strings.Split(*caches, ","),
		*files, *mib, *jobs, *nixexprs, *only, *cpuprofile, *keep); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string, rounds int, strategies, caches []string, files, mib, jobs, nixexprs int, only, cpuprofile string, keep bool) error {
	// The host's Nix builds the closure once: no substituters, no build users.
	os.Setenv("NIX_CONFIG", "substituters =\nbuild-users-group =\nexperimental-features = nix-command\nsandbox = false")
	tarball := testenv.NixTarballPath(testenv.ToolsDir())
	if _, err := os.Stat(tarball); err != nil {
		return fmt.Errorf("the Nix tarball fixture is missing (%s): run scripts/setup.sh, or set NIXBP_TOOLS_DIR", tarball)
	}
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(tarball), "nix-"), "-x86_64-linux.tar.xz")
	b := &bench{jobs: jobs, tarball: tarball, source: nixinstall.Tarball{Version: version, Checksum: "bench",
		Open: func() (io.ReadCloser, error) { return os.Open(tarball) }}}
	if p := filepath.Join(testenv.ToolsDir(), "proot", "proot"); fileExists(p) {
		b.proot = p
	}
	plan := makePlan(files, mib)
	var err error
	if b.c, err = prepare(ctx, filepath.Join(dir, fmt.Sprintf("closure-%d-%d", files, mib)), plan); err != nil {
		return err
	}
	if nixexprs > 0 {
		if b.nixexprs, err = makeNixpkgs(dir, nixexprs); err != nil {
			return err
		}
		link := filepath.Join(b.c.cacheDir, filepath.Base(b.nixexprs))
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(b.nixexprs, link); err != nil {
				return err
			}
		}
		caches = append(caches, "nixpkgs")
	}
	if b.http, err = startServer(b.c.cacheDir); err != nil {
		return err
	}
	defer b.http.stop()
	runs := filepath.Join(dir, fmt.Sprintf("runs-%d", time.Now().Unix()))
	defer func() {
		if !keep {
			removeRuns(dir)
		}
	}()

	var methods []method
	for _, s := range strategies {
		for _, c := range caches {
			for _, ours := range []bool{false, true} {
				m := method{Strategy: nixmount.Strategy(s), Cache: c, Ours: ours, native: s == string(nixmount.Native)}
				if strings.Contains(m.String(), only) {
					methods = append(methods, m)
				}
			}
		}
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	fmt.Fprintf(os.Stderr, "load average before: %s\n", loadAverage())
	results := map[string][]figures{}
	for r := range rounds {
		for i := range methods {
			m := methods[(i+r)%len(methods)] // rotate: no method always goes first
			runDir := filepath.Join(runs, fmt.Sprintf("%d-%d", r, i))
			f, err := b.run(ctx, m, runDir, r == 0)
			if err != nil {
				return fmt.Errorf("%s: %w (log: %s)", m, err, filepath.Join(runDir, "build.log"))
			}
			results[m.id()] = append(results[m.id()], f)
			fmt.Fprintf(os.Stderr, "round %d: %-48s %7.2f s  cpu %6.2f s  server %5.2f s  %s\n", r+1, m, f.wall.Seconds(), f.cpu.Seconds(), f.server.Seconds(), f.detail)
		}
		if !keep {
			// A round of every strategy writes several GB (the closure
			// twice per strategy, <nixpkgs> once more by Nix's Git cache):
			// kept for all rounds, it filled a shared disk.
			removeRuns(dir)
		}
	}
	report(b, methods, results, rounds, strategies, caches)
	return nil
}

// report prints the closure, the medians and the ratios with their targets.
func report(b *bench, methods []method, results map[string][]figures, rounds int, strategies, caches []string) {
	fmt.Printf("\nclosure: %d store paths, %d files, %.1f MiB NAR, %.1f MiB as zstd NARs, signed; the app's own derivation is built\n",
		len(b.c.paths), b.c.files, float64(b.c.narBytes)/(1<<20), float64(b.c.zstd)/(1<<20))
	fmt.Printf("machine: load average %s; every build into a fresh Nix directory (Nix installed untimed), %d interleaved rounds\n", loadAverage(), rounds)
	fmt.Printf("cpu: user+system seconds of this process and its children (Nix, proot); server: the HTTP cache's\n\n")
	fmt.Printf("%-48s %s  %8s  %8s  %8s\n", "method (wall seconds per round)", strings.Repeat("   round", rounds), "median", "best", "cpu")
	med := map[string]float64{}
	for _, m := range methods {
		var cols []string
		var walls, cpus []float64
		for _, f := range results[m.id()] {
			cols = append(cols, fmt.Sprintf("%8.2f", f.wall.Seconds()))
			walls = append(walls, f.wall.Seconds())
			cpus = append(cpus, f.cpu.Seconds())
		}
		med[m.id()] = median(walls)
		fmt.Printf("%-48s %s  %7.2fs  %7.2fs  %7.2fs\n", m, strings.Join(cols, ""), med[m.id()], slices.Min(walls), median(cpus))
	}
	fmt.Printf("\nratios (median wall)                                   ratio   target\n")
	ratio := func(name, a, b, target string) {
		if med[a] > 0 && med[b] > 0 {
			fmt.Printf("  %-52s %5.2fx  %s\n", name, med[a]/med[b], target)
		}
	}
	ratio("<nixpkgs>: proot, Nix unpacking / ours", "proot/nixpkgs/nix", "proot/nixpkgs/ours", ">= 1x (else Nix unpacks under proot)")
	ratio("<nixpkgs>: userns, Nix unpacking / ours", "userns/nixpkgs/nix", "userns/nixpkgs/ours", ">= 1x (else Nix unpacks under userns)")
	ratio("<nixpkgs>: native, Nix unpacking / ours", "native/nixpkgs/nix", "native/nixpkgs/ours", ">= 1x (else Nix unpacks under native)")
	for _, c := range caches {
		if c == "nixpkgs" {
			continue
		}
		best := func(s string) string { // the faster of the two ways, per strategy
			if med[s+"/"+c+"/ours"] > 0 && med[s+"/"+c+"/ours"] < med[s+"/"+c+"/nix"] {
				return s + "/" + c + "/ours"
			}
			return s + "/" + c + "/nix"
		}
		ratio(c+": proot, Nix substituting / ours", "proot/"+c+"/nix", "proot/"+c+"/ours", ">= 3x")
		ratio(c+": proot, ours / userns, the faster way", "proot/"+c+"/ours", best("userns"), "<= 1.3x")
		ratio(c+": userns, Nix substituting / ours", "userns/"+c+"/nix", "userns/"+c+"/ours", ">= 1x (else Nix substitutes under userns)")
		ratio(c+": native, Nix substituting / ours", "native/"+c+"/nix", "native/"+c+"/ours", ">= 1x (else Nix substitutes under native)")
	}
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// removeRuns deletes the scratch directories of this and of earlier,
// interrupted runs; only after the timed runs, as a large rm -rf slows
// file creation on ext4 for a while.
func removeRuns(dir string) {
	old, _ := filepath.Glob(filepath.Join(dir, "runs-*"))
	for _, d := range old {
		_ = exec.Command("chmod", "-R", "u+w", d).Run()
		_ = os.RemoveAll(d)
	}
}
