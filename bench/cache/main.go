// Command cache benchmarks restoring a Nix closure from a binary cache in
// S3 (versitygw on loopback) the old way (one zstd nix-store --export,
// imported), with Nix's own nix copy, and with internal/cache, against the
// floor of moving the same bytes, and prints the figures and their ratios.
//
//	go run ./bench/cache [-rounds 5] [-size 460] [-dir bench/out/cache]
//	go run ./bench/cache -only cold,floor -cpuprofile cpu.out [-trace trace.out] [-blockprofile block.out]
//
// Needs root (registration runs nix-store in a mount namespace), nix-bin,
// zstd, busybox-static and versitygw (scripts/tools.sh versitygw).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

func main() {
	dir := flag.String("dir", filepath.Join(testenv.RepoRoot(), "bench", "out", "cache"), "work directory (the synthetic store is kept here between runs)")
	rounds := flag.Int("rounds", 5, "interleaved rounds of every method")
	size := flag.Int("size", 460, "MiB of file data in the synthetic closure")
	var prof profiles
	flag.StringVar(&prof.cpu, "cpuprofile", "", "write a CPU profile of the timed runs to this file")
	flag.StringVar(&prof.trace, "trace", "", "write a Go execution trace of the timed runs to this file (go tool trace -pprof=syscall FILE shows where restores wait in system calls)")
	flag.StringVar(&prof.block, "blockprofile", "", "write a profile of where goroutines wait on channels and locks during the timed runs to this file")
	flag.StringVar(&prof.mutex, "mutexprofile", "", "write a profile of contended mutexes during the timed runs to this file")
	keep := flag.Bool("keep", false, "keep the scratch directories (delete them later: a large rm -rf slows the next runs' file creation for minutes)")
	verbose := flag.Bool("v", false, "show the cache's log lines")
	jobs := flag.Int("jobs", 0, "NARs fetched at once (cache.Options.Jobs; 0 for its default)")
	keepAlive := flag.Bool("s3-keep-alive", true, "run versitygw with --keep-alive, as S3 services keep connections open (false: a new connection per request, the bench before issue 25)")
	only := flag.String("only", "", "run only these methods (comma-separated: old, nixcopy, cold, coldfile, warm, floor, gets3, getfile), print no table")
	flag.Parse()
	var log io.Writer
	if *verbose {
		log = os.Stderr
	}
	if err := run(context.Background(), *dir, *rounds, *size, *jobs, *keepAlive, log, *keep, *only, prof); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string, rounds, size, jobs int, keepAlive bool, log io.Writer, keep bool, only string, prof profiles) error {
	// No substituters (each build would wait for cache.nixos.org), no build
	// users (the scratch stores belong to root).
	os.Setenv("NIX_CONFIG", "substituters =\nbuild-users-group =\nexperimental-features = nix-command\nsandbox = false")
	b := &bench{dir: dir, jobs: jobs, keepAlive: keepAlive, log: log, runs: filepath.Join(dir, fmt.Sprintf("runs-%d", time.Now().Unix()))}
	defer func() {
		b.stopS3()
		if !keep {
			b.removeRuns()
		}
	}()
	if err := b.buildClosure(size); err != nil {
		return err
	}
	if err := b.startS3(); err != nil {
		return err
	}
	defer b.stopS3()
	if err := b.pushCold(ctx); err != nil {
		return err
	}
	if err := b.prepareOld(ctx); err != nil {
		return err
	}
	methods := []method{
		{id: "old", name: "old: export.zst from S3 | nix-store --import", run: b.runOld},
		{id: "nixcopy", name: "nix copy --from file://<bucket dir>", run: b.runNixCopy},
		{id: "cold", name: "ours: cold restore from S3 + register", run: b.runCold},
		{id: "coldfile", name: "ours: cold restore from file://<bucket dir> + register", run: b.runColdFile},
		{id: "warm", name: "ours: warm restore (10 of 201 missing) + register", run: b.runWarm},
		{id: "floor", name: "floor: download to /dev/null + write files", run: b.runFloor},
		{id: "gets3", name: "transfer only: every object from S3 to /dev/null", run: b.runGet(true)},
		{id: "getfile", name: "transfer only: every object from file:// to /dev/null", run: b.runGet(false)},
	}
	if only != "" {
		var keep []method
		for _, m := range methods {
			if slices.Contains(strings.Split(only, ","), m.id) {
				keep = append(keep, m)
			}
		}
		methods = keep
	}
	stopProfiles, err := prof.start()
	if err != nil {
		return err
	}
	wall := map[string][]time.Duration{}
	cpu := map[string][]time.Duration{}
	details := map[string][]string{}
	for r := range rounds {
		for i := range methods {
			m := methods[(i+r)%len(methods)] // rotate, so no method always goes first
			runDir := filepath.Join(b.runs, fmt.Sprintf("%d-%d", r, i))
			c := &clock{b: b}
			detail, err := m.run(ctx, runDir, r == 0, c)
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			fmt.Fprintf(os.Stderr, "round %d: %-56s %6.2f s  [%s]  %s\n", r+1, m.name, c.wall.Seconds(), c.cpu, detail)
			wall[m.id] = append(wall[m.id], c.wall)
			cpu[m.id] = append(cpu[m.id], c.cpu.total())
			details[m.id] = append(details[m.id], detail)
		}
	}
	if err := stopProfiles(); err != nil {
		return err
	}
	if only != "" {
		return nil
	}
	change, changeDetail, err := b.pushAfterChange(ctx)
	if err != nil {
		return err
	}
	// Every timed run wrote into a fresh directory; they are deleted on
	// return, after all timed runs, as ext4 creates files slowly for a
	// while after a large rm -rf.

	fmt.Printf("\nclosure: %d store paths, %d files, %.1f MiB NAR, %.1f MiB as zstd NARs, %.1f MiB as one zstd export\n",
		len(b.infos), b.files, mibf(b.narBytes), mibf(b.zstdBytes), mibf(b.exportBytes))
	fmt.Printf("machine: %d CPUs; S3: versitygw on loopback; every run into a fresh chroot store, %d interleaved rounds\n", numCPU(), rounds)
	fmt.Printf("cpu: user+system seconds of all processes involved (ours, nix tools, the S3 server)\n\n")
	fmt.Printf("%-56s %s  %8s  %8s  %8s\n", "method (wall seconds per round)", strings.Repeat("  round", rounds), "median", "best", "cpu")
	med := map[string]float64{}
	best := map[string]float64{}
	for _, m := range methods {
		var cols []string
		for _, d := range wall[m.id] {
			cols = append(cols, fmt.Sprintf("%7.2f", d.Seconds()))
		}
		med[m.id] = median(wall[m.id])
		best[m.id] = slices.Min(wall[m.id]).Seconds()
		fmt.Printf("%-56s %s  %7.2fs  %7.2fs  %7.2fs\n", m.name, strings.Join(cols, ""), med[m.id], best[m.id], median(cpu[m.id]))
	}
	fmt.Printf("%-56s %7.2fs  (%s)\n", "push, cold (all paths)", b.pushTime.Seconds(), b.pushDetail)
	fmt.Printf("%-56s %7.2fs  (%s)\n", "push after a one-path change", change.Seconds(), changeDetail)
	fmt.Printf("\nours, cold, per round: %s\n", strings.Join(details["cold"], "; "))
	fmt.Printf("floor, per round: %s\n", strings.Join(details["floor"], "; "))
	fmt.Printf("\nratios (wall)                              median    best   target\n")
	ratio := func(name string, a, b string, target string) {
		fmt.Printf("  %-40s %5.2fx  %5.2fx  %s\n", name, med[a]/med[b], best[a]/best[b], target)
	}
	ratio("old / ours cold", "old", "cold", ">= 2x")
	ratio("nix copy / ours cold", "nixcopy", "cold", ">= 2x")
	ratio("ours cold / floor", "cold", "floor", "<= 1.3x")
	ratio("nix copy / ours from the same directory", "nixcopy", "coldfile", ">= 2x")
	ratio("ours from the same directory / floor", "coldfile", "floor", "<= 1.3x")
	ratio("ours warm / ours cold", "warm", "cold", "")
	return nil
}

type method struct {
	id, name string
	// run restores into a fresh directory under dir, timing the restore
	// with c (start and stop once); check asks it to verify the result too
	// (untimed). It returns details for the log.
	run func(ctx context.Context, dir string, check bool, c *clock) (string, error)
}

func median(ds []time.Duration) float64 {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2].Seconds()
	}
	return (s[len(s)/2-1] + s[len(s)/2]).Seconds() / 2
}

func mibf(n int64) float64 { return float64(n) / (1 << 20) }
