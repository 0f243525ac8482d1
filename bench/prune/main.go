// Command prune times `nixbp prune` (prune.Copy, in process) against
// `rsync -a --exclude-from` on a generated Nix store, with the .slugexclude
// example of the old Nix buildpacks, which keeps about half of it.
//
// Run it from the repository root (rsync must be installed):
//
//	go run ./bench/prune                   # store in a fresh dir under /tmp
//	go run ./bench/prune -dir /some/dir -rounds 7 -files 20000 -mb 300
//
// Each round times four runs, interleaved, each into a fresh destination:
// ours copying, rsync copying, ours hard-linking (--link), and rsync
// hard-linking (--link-dest=SRC, its way of linking unchanged files). All
// destinations are deleted only after the last timed run (deleting a lot at
// once slows file creation on these machines for minutes). Before each timed
// run the page cache is synced, untimed (-sync=false to not): otherwise the
// run after a copy pays for that copy's writeback. It prints each
// run, the medians, and rsync's median over ours with the target of issue 15
// next to it (copy 1.5x, link 5x).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"
	"github.com/nix-buildpack/nix-buildpack/internal/prune"
)

const rules = `+ store/**/
+ store/*-user-environment/**
+ store/*-nix-1*/**
+ *[._]so*
+ store/*my-awesome-app*/**
- store/**
`

func main() {
	dir := flag.String("dir", "", "directory for the store and the copies (default: a fresh one under /tmp)")
	rounds := flag.Int("rounds", 5, "timed rounds")
	files := flag.Int("files", 15000, "at least this many files in the store")
	mb := flag.Int64("mb", 250, "at least this many MB (1e6 bytes) in the store")
	workers := flag.Int("workers", 0, "prune.Options.Workers (0: default)")
	keep := flag.Bool("keep", false, "keep the directory afterwards")
	flush := flag.Bool("sync", true, "sync(2) before each timed run, untimed, so no run pays for the previous one's writeback")
	flag.Parse()
	if err := run(*dir, *rounds, *files, *mb*1e6, *workers, *keep, *flush); err != nil {
		fmt.Fprintln(os.Stderr, "bench/prune:", err)
		os.Exit(1)
	}
}

func run(dir string, rounds, minFiles int, minBytes int64, workers int, keep, flush bool) error {
	rsync, err := exec.LookPath("rsync")
	if err != nil {
		return fmt.Errorf("unable to find rsync\n%w", err)
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("/tmp", "bench-prune-"); err != nil {
			return err
		}
	}
	if !keep {
		defer removeAll(dir)
	}
	src := filepath.Join(dir, "nix")
	start := time.Now()
	nFiles, nBytes, err := makeStore(src, minFiles, minBytes)
	if err != nil {
		return err
	}
	fmt.Printf("store: %s, %d files, %.1f MB, made in %.1fs\n", src, nFiles, float64(nBytes)/1e6, time.Since(start).Seconds())
	ruleFile := filepath.Join(dir, ".slugexclude")
	if err := os.WriteFile(ruleFile, []byte(rules), 0o644); err != nil {
		return err
	}
	parsed, err := exclude.ParseRules(strings.NewReader(rules), ruleFile)
	if err != nil {
		return err
	}
	rep, err := prune.Plan(src, parsed, prune.Options{})
	if err != nil {
		return err
	}
	keptFiles, keptBytes := 0, int64(0)
	for _, e := range rep.Kept {
		if e.Mode.IsRegular() {
			keptFiles++
			keptBytes += e.Size
		}
	}
	fmt.Printf("rules keep %d files (%.0f%%), %.1f MB (%.0f%%)\n", keptFiles, 100*float64(keptFiles)/float64(nFiles),
		float64(keptBytes)/1e6, 100*float64(keptBytes)/float64(nBytes))

	n := 0
	fresh := func(tag string) string {
		n++
		return filepath.Join(dir, fmt.Sprintf("dst%03d-%s", n, tag))
	}
	variants := []struct {
		name string
		run  func(dst string) error
	}{
		{"ours copy", func(dst string) error {
			_, err := prune.Copy(src, dst, parsed, prune.Options{Workers: workers})
			return err
		}},
		{"rsync copy", func(dst string) error {
			return command(rsync, "-a", "--exclude-from="+ruleFile, src+"/", dst+"/")
		}},
		{"ours --link", func(dst string) error {
			_, err := prune.Copy(src, dst, parsed, prune.Options{Link: true, Workers: workers})
			return err
		}},
		{"rsync --link-dest", func(dst string) error {
			return command(rsync, "-a", "--link-dest="+src, "--exclude-from="+ruleFile, src+"/", dst+"/")
		}},
	}
	// One untimed run of each warms the page cache and checks the outputs agree.
	var counts []int
	for _, v := range variants {
		dst := fresh("warmup")
		if err := v.run(dst); err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		c, err := count(dst)
		if err != nil {
			return err
		}
		counts = append(counts, c)
	}
	for i, c := range counts {
		if c != counts[0] {
			return fmt.Errorf("%s made %d entries, %s made %d", variants[i].name, c, variants[0].name, counts[0])
		}
	}
	fmt.Printf("each run creates %d entries; %d rounds:\n", counts[0], rounds)
	times := make([][]time.Duration, len(variants))
	for r := 0; r < rounds; r++ {
		var line []string
		for i, v := range variants {
			dst := fresh(strings.ReplaceAll(v.name, " ", ""))
			if flush {
				syscall.Sync()
			}
			t0 := time.Now()
			if err := v.run(dst); err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			d := time.Since(t0)
			times[i] = append(times[i], d)
			line = append(line, fmt.Sprintf("%s %.3fs", v.name, d.Seconds()))
		}
		fmt.Printf("  round %d: %s\n", r+1, strings.Join(line, ", "))
	}
	med := make([]time.Duration, len(variants))
	for i := range variants {
		med[i] = median(times[i])
		fmt.Printf("median %-18s %.3fs\n", variants[i].name, med[i].Seconds())
	}
	// Targets from issue 15: how many times faster than rsync ours must be.
	fmt.Printf("copy: %.2fx rsync -a (target 1.5x)\n", med[1].Seconds()/med[0].Seconds())
	fmt.Printf("link: %.2fx rsync --link-dest (target 5x)\n", med[3].Seconds()/med[2].Seconds())
	fmt.Printf("link: %.2fx rsync -a (no target)\n", med[1].Seconds()/med[2].Seconds())
	return nil
}

func command(name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

func count(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(string, fs.DirEntry, error) error { n++; return nil })
	return n, err
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
