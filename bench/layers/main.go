// Command layers measures what splitting the runtime closure into image
// layers (internal/layering) buys and costs, on a synthetic closure shaped
// like ENVIRONMENT.md's (201 store paths, about 459 MiB): the bytes of
// layers whose digest changes between two builds that differ in the app's
// own store path, with one layer per store path (the rest grouped past
// -max) against the whole closure as one layer; and the launcher's start-up
// per /nix strategy through the view layer's links against one directory.
//
//	go run ./bench/layers [-paths 201 -mib 459 -max 100 -rounds 15]
//
// Layer digests are the sha256 of a tar written as the exporter writes
// layers (lifecycle 0.21.14 layers.Factory: mtimes normalised, uid/gid
// fixed, hard links as whole files). Needs root (native is timed in a
// private mount namespace with the closure bound on /nix), proot, and
// unprivileged user namespaces.
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/layering"
)

func main() {
	paths := flag.Int("paths", 201, "store paths in the closure")
	mib := flag.Int("mib", 459, "closure size in MiB")
	maxLayers := flag.Int("max", 100, "BP_NIX_MAX_LAYERS")
	rounds := flag.Int("rounds", 15, "launcher start-ups per strategy and layout")
	inner := flag.String("time-native", "", "(internal) time the launcher with this nix dir bound on /nix")
	launcher := flag.String("launcher", "", "(internal) nixbp-launch binary")
	flag.Parse()
	if *inner != "" {
		fmt.Println(timeLaunch(*launcher, *inner, "native", *rounds).Microseconds())
		return
	}
	if err := run(*paths, *mib, *maxLayers, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "layers:", err)
		os.Exit(1)
	}
}

func run(n, mib, maxLayers, rounds int) error {
	dir, err := os.MkdirTemp("", "bench-layers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c := synthetic(n, int64(mib)<<20, 1)
	if err := c.write(filepath.Join(dir, "store1")); err != nil {
		return err
	}
	// Build 2: the app's own path (index 0) has one changed file, hence a
	// new store path; nothing else changes.
	c2 := c.withNewApp()
	if err := c2.write(filepath.Join(dir, "store2")); err != nil {
		return err
	}
	l1, err := c.digests(filepath.Join(dir, "store1"), maxLayers)
	if err != nil {
		return err
	}
	l2, err := c2.digests(filepath.Join(dir, "store2"), maxLayers)
	if err != nil {
		return err
	}
	var total, changed int64
	for name, d := range l2 {
		total += d.size
		if l1[name] != d {
			changed += d.size
		}
	}
	fmt.Printf("closure: %d store paths, %d MiB of files, max %d layers\n\n", n, mib, maxLayers)
	fmt.Printf("| layout | store layers | bytes changed between builds | share |\n|---|---|---|---|\n")
	fmt.Printf("| one layer (before) | 1 | %d | 100%% |\n", total)
	fmt.Printf("| layer per store path | %d | %d | %.2f%% |\n\n", len(l2), changed, 100*float64(changed)/float64(total))

	bin := filepath.Join(dir, "nixbp-launch")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/nixbp-launch").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	single, view := filepath.Join(dir, "single", "nix"), filepath.Join(dir, "layers", "view", "nix")
	if err := c.layouts(filepath.Join(dir, "store1"), single, filepath.Join(dir, "layers"), maxLayers); err != nil {
		return err
	}
	fmt.Printf("launcher start-up (`nixbp-launch -- /bin/busybox true`), median of %d:\n\n", rounds)
	fmt.Printf("| strategy | one directory | view of %d layers |\n|---|---|---|\n", len(l2))
	for _, s := range []string{"native", "userns", "proot"} {
		var a, b time.Duration
		for i := 0; i < 3; i++ { // interleaved: A B A B A B, best median kept
			x, y := measure(bin, single, s, rounds), measure(bin, view, s, rounds)
			if i == 0 || x < a {
				a = x
			}
			if i == 0 || y < b {
				b = y
			}
		}
		fmt.Printf("| %s | %s | %s |\n", s, a.Round(10*time.Microsecond), b.Round(10*time.Microsecond))
	}
	return nil
}

// measure times start-ups through strategy s; native runs in a private
// mount namespace with nixDir bound on /nix.
func measure(bin, nixDir, s string, rounds int) time.Duration {
	if s != "native" {
		return timeLaunch(bin, nixDir, s, rounds)
	}
	self, _ := os.Executable()
	script := fmt.Sprintf("mount --bind %s /nix && exec %s -time-native %s -launcher %s -rounds %d", nixDir, self, nixDir, bin, rounds)
	out, err := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "native: %v\n%s", err, out)
		return 0
	}
	var us int64
	fmt.Sscan(strings.TrimSpace(string(out)), &us)
	return time.Duration(us) * time.Microsecond
}

func timeLaunch(bin, nixDir, s string, rounds int) time.Duration {
	var ts []time.Duration
	for i := 0; i < rounds; i++ {
		cmd := exec.Command(bin, "--quiet", "--nix-dir", nixDir, "--", "/bin/busybox true")
		cmd.Env = append(os.Environ(), "NIXBP_STRATEGY="+s)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n%s", s, err, out)
			return 0
		}
		ts = append(ts, time.Since(start))
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts[len(ts)/2]
}

// closure is a synthetic closure: names, sizes and references.
type closure struct {
	names []string
	sizes []int64
	refs  [][]int
	seed  int64
}

// synthetic makes n paths whose sizes follow a long tail (a few large
// libraries, many small ones); path i references a few paths after it, and
// the app (path 0) references ten.
func synthetic(n int, total int64, seed int64) *closure {
	r := rand.New(rand.NewSource(seed))
	c := &closure{seed: seed}
	var weights []float64
	var sum float64
	for i := 0; i < n; i++ {
		w := 1 / float64(1+r.Intn(n))
		weights = append(weights, w)
		sum += w
	}
	for i := 0; i < n; i++ {
		c.names = append(c.names, fmt.Sprintf("%032x-p%03d", r.Uint64()^uint64(i)<<40, i)[:32]+fmt.Sprintf("-p%03d", i))
		c.sizes = append(c.sizes, int64(float64(total)*weights[i]/sum))
		var refs []int
		k := 3
		if i == 0 {
			k = 10
		}
		for j := 0; j < k && i+1 < n; j++ {
			refs = append(refs, i+1+r.Intn(n-i-1))
		}
		c.refs = append(c.refs, refs)
	}
	return c
}

func (c *closure) withNewApp() *closure {
	c2 := *c
	c2.names = append([]string(nil), c.names...)
	c2.names[0] = strings.Repeat("z", 32) + "-p000"
	return &c2
}

func (c *closure) write(store string) error {
	for i, name := range c.names {
		d := filepath.Join(store, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		data := make([]byte, c.sizes[i])
		rand.New(rand.NewSource(int64(i))).Read(data)
		if err := os.WriteFile(filepath.Join(d, "data"), data, 0o444); err != nil {
			return err
		}
		// The one file that differs in the app's new build.
		if err := os.WriteFile(filepath.Join(d, "version"), []byte(name), 0o444); err != nil {
			return err
		}
	}
	return nil
}

func (c *closure) plan(maxLayers int) []layering.Layer {
	paths := make([]string, len(c.names))
	refs := map[string][]string{}
	sizes := map[string]int64{}
	for i, n := range c.names {
		paths[i] = "/nix/store/" + n
		sizes[paths[i]] = c.sizes[i]
		for _, j := range c.refs[i] {
			refs[paths[i]] = append(refs[paths[i]], "/nix/store/"+c.names[j])
		}
	}
	return layering.Plan(paths, refs, sizes, maxLayers)
}

type layerDigest struct {
	digest string
	size   int64
}

func (c *closure) digests(store string, maxLayers int) (map[string]layerDigest, error) {
	out := map[string]layerDigest{}
	for _, l := range c.plan(maxLayers) {
		d, size, err := tarDigest(store, l)
		if err != nil {
			return nil, err
		}
		out[l.Name] = layerDigest{d, size}
	}
	return out, nil
}

// layouts writes the closure as one directory (single/store) and as store
// layers with a view (layers/<name>/store, layers/view/nix/store links),
// hard-linked from store.
func (c *closure) layouts(store, single, layers string, maxLayers int) error {
	if err := os.MkdirAll(single, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("cp", "-al", store, filepath.Join(single, "store")).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -al: %v\n%s", err, out)
	}
	viewStore := filepath.Join(layers, "view", "nix", "store")
	if err := os.MkdirAll(viewStore, 0o755); err != nil {
		return err
	}
	for _, l := range c.plan(maxLayers) {
		dst := filepath.Join(layers, l.Name, "store")
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		for _, n := range l.Paths {
			if out, err := exec.Command("cp", "-al", filepath.Join(store, n), dst+"/").CombinedOutput(); err != nil {
				return fmt.Errorf("cp -al: %v\n%s", err, out)
			}
			if err := os.Symlink(filepath.Join(dst, n), filepath.Join(viewStore, n)); err != nil {
				return err
			}
		}
	}
	return nil
}
