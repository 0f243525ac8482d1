// Command relocate times relocate.Copy (copying a closure while rewriting
// /nix/store/ to a same-length prefix) against `cp -a` of the same tree,
// and the relocatability check (relocate/check's Closure) on the result,
// on a synthetic store shaped like bench/cache's closure: about 200 store
// paths of log-uniform sizes, files from bytes to tens of MiB, a third
// random (compressed assets), a third text naming other store paths, a
// third machine code (slices of busybox), plus symlinks into other paths.
//
//	go run ./bench/relocate [-mib 200] [-rounds 5] [-dir /tmp/...]
//
// Rounds are interleaved (cp -a, relocate, cp -a, ...), each into a fresh
// directory, all deleted only after the last timed run (a large rm -rf
// slows file creation on these machines for minutes).
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/relocate"
	"github.com/nix-buildpack/nix-buildpack/internal/relocate/check"
)

func main() {
	mib := flag.Int("mib", 200, "MiB of file data in the synthetic store")
	rounds := flag.Int("rounds", 5, "interleaved rounds")
	dir := flag.String("dir", "", "work directory (default: a fresh one under /tmp)")
	flag.Parse()
	if err := run(*dir, *mib, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench/relocate:", err)
		os.Exit(1)
	}
}

func run(dir string, mib, rounds int) error {
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "bench-relocate-"); err != nil {
			return err
		}
	}
	store := filepath.Join(dir, "store")
	names, files, bytes, err := makeStore(store, mib)
	if err != nil {
		return err
	}
	fmt.Printf("synthetic store: %d paths, %d files, %.1f MiB\n", len(names), files, float64(bytes)/(1<<20))
	p := relocate.Prefix("/app/.nixs")
	var cp, rel, chk []time.Duration
	for r := range rounds {
		dst := filepath.Join(dir, fmt.Sprintf("cp-%d", r))
		start := time.Now()
		if out, err := exec.Command("cp", "-a", store, dst).CombinedOutput(); err != nil {
			return fmt.Errorf("cp -a: %v\n%s", err, out)
		}
		cp = append(cp, time.Since(start))

		dst = filepath.Join(dir, fmt.Sprintf("relocated-%d", r))
		start = time.Now()
		rep, err := relocate.Copy(store, dst, names, p)
		if err != nil {
			return err
		}
		rel = append(rel, time.Since(start))

		start = time.Now()
		c, err := check.Closure(store, dst, string(p))
		if err != nil {
			return err
		}
		chk = append(chk, time.Since(start))
		fmt.Printf("round %d: cp -a %s, relocate.Copy %s (%d references rewritten), check.Closure %s (%d findings)\n",
			r+1, cp[r].Round(time.Millisecond), rel[r].Round(time.Millisecond), rep.Rewritten, chk[r].Round(time.Millisecond), len(c.Broken))
	}
	mb := float64(bytes) / 1e6
	fmt.Printf("medians: cp -a %s (%.0f MB/s), relocate.Copy %s (%.0f MB/s, %.2fx cp -a), check.Closure %s (%.0f MB/s)\n",
		median(cp).Round(time.Millisecond), mb/median(cp).Seconds(), median(rel).Round(time.Millisecond), mb/median(rel).Seconds(),
		median(rel).Seconds()/median(cp).Seconds(), median(chk).Round(time.Millisecond), mb/median(chk).Seconds())
	fmt.Printf("work directory %s (delete it when done)\n", dir)
	return nil
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration{}, d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// makeStore writes the synthetic store and returns its path names, file
// count and bytes.
func makeStore(store string, mib int) ([]string, int, int64, error) {
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("the machine-code files are slices of /bin/busybox: %w", err)
	}
	r := rand.New(rand.NewPCG(7, 42))
	const n = 200
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%032d-synth-%d", i, i)
	}
	weights := make([]float64, n)
	var sum float64
	for i := range weights {
		weights[i] = math.Exp(math.Log(4<<10) + r.Float64()*(math.Log(64<<20)-math.Log(4<<10)))
		sum += weights[i]
	}
	random := make([]byte, 8<<20)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	files, total := 0, int64(0)
	for i, name := range names {
		size := int64(weights[i] / sum * float64(mib<<20))
		nfiles := 1 + int(min(size/(192<<10), 80))
		for j := range nfiles {
			fsize := size / int64(nfiles)
			var data []byte
			switch j % 3 {
			case 0:
				data = repeat(random[r.IntN(len(random)/2):], fsize)
			case 1:
				// One store path reference per KiB of text.
				ref := fmt.Sprintf("see /nix/store/%s/lib/x\n", names[(i+n-1)%n])
				line := "some ordinary text follows, line after line, as in docs and scripts\n"
				for len(ref) < 1024-len(line) {
					ref += line
				}
				data = repeat([]byte(ref), fsize)
			case 2:
				data = repeat(busybox[r.IntN(len(busybox)/2):], fsize)
			}
			p := filepath.Join(store, name, []string{"lib", "share/doc", "bin"}[j%3], fmt.Sprintf("f%d", j))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, 0, 0, err
			}
			if err := os.WriteFile(p, data, 0o444); err != nil {
				return nil, 0, 0, err
			}
			files++
			total += int64(len(data))
		}
		if err := os.Symlink("/nix/store/"+names[i/2]+"/lib", filepath.Join(store, name, "dep")); err != nil {
			return nil, 0, 0, err
		}
	}
	return names, files, total, nil
}

// repeat is src repeated or cut to n bytes.
func repeat(src []byte, n int64) []byte {
	out := make([]byte, 0, n)
	for int64(len(out)) < n {
		out = append(out, src[:min(int64(len(src)), n-int64(len(out)))]...)
	}
	return out
}
