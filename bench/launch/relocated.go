package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e/docker"
)

// The relocated columns: the same app built on the stock builder
// (scripts/docker/stock-images.sh: Debian with no proot and no /nix), where
// Nix runs through the buildpack's bundled proot and the image's closure is
// relocated to a /tmp link the launcher makes (Docker's default seccomp
// profile refuses user namespaces, so BP_NIX_RELOCATE=auto relocates).
// reloc-plain runs the workloads on the relocated layers' real paths with
// no launcher, relocated through the launcher and its link: the ratio
// relocated/reloc-plain is what running relocated costs.

// relocatedImage builds app on the stock builder as relocImage, cold then
// warm, prints both times, and returns the cold build's image.
func relocatedImage(env *docker.Env, cnb, app, relocImage string) (string, error) {
	if err := env.MakeStockBuilder(cnb); err != nil {
		return "", err
	}
	_, _ = env.Docker(time.Minute, "rmi", "-f", relocImage)
	out, cold, err := env.BuildWith(docker.StockBuilder, relocImage, app, "--clear-cache")
	if err != nil {
		return "", err
	}
	if !strings.Contains(out, "Relocating the runtime closure") || !strings.Contains(out, "/nix through proot") {
		return "", fmt.Errorf("the stock build did not run Nix through proot and relocate:\n%s", out)
	}
	if _, err := env.Docker(time.Minute, "tag", relocImage, relocImage+"-cold"); err != nil {
		return "", err
	}
	_, warm, err := env.BuildWith(docker.StockBuilder, relocImage, app)
	if err != nil {
		return "", err
	}
	fmt.Printf("pack build on %s (bundled proot, relocated): cold %s, warm %s\n", docker.StockBuilder,
		cold.Round(10*time.Millisecond), warm.Round(10*time.Millisecond))
	return relocImage + "-cold", nil
}

// relocatedModes are the relocated image's columns.
func relocatedModes(img string) []mode {
	return []mode{
		{"reloc-plain", "plain", img, nil},
		{"relocated", "relocate", img, []string{"-e", "NIXBP_STRATEGY=relocate"}},
	}
}

// storeDirIn is where the launcher shows the store paths of the view's
// nixDir, without the leading slash: the relocated store directory when
// the build relocated the closure (the first line of nix/relocated, as
// internal/launch reads it), else nix/store.
func storeDirIn(nixDir string) string {
	data, err := os.ReadFile(filepath.Join(nixDir, "relocated"))
	if err != nil {
		return "nix/store"
	}
	dir, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimPrefix(filepath.Clean(dir), "/")
}

// printRelocated prints the relocated columns and their ratios to the
// same image's plain run and to the busybox image's: wall medians, and
// the best round of CPU time (as printTable).
func printRelocated(modes []mode, figures map[string]map[string][]float64) {
	med := func(mode, key string) float64 {
		v := append([]float64(nil), figures[mode][key]...)
		sort.Float64s(v)
		if strings.HasSuffix(key, ".cpu") {
			return v[0]
		}
		return v[len(v)/2]
	}
	rp, r := modes[0].name, modes[1].name
	fmt.Printf("\nrelocated on %s, in ms\n", docker.StockRunImage)
	fmt.Printf("%-12s %12s %12s %12s %24s %16s\n", "workload", rp, r, "plain", r+"/"+rp, r+"/plain")
	for _, w := range []string{"start", "exec", "find", "tar", "exec.cpu", "find.cpu", "tar.cpu"} {
		fmt.Printf("%-12s %12.2f %12.2f %12.2f %24.3f %16.3f\n", w, 1000*med(rp, w), 1000*med(r, w), 1000*med("plain", w),
			med(r, w)/med(rp, w), med(r, w)/med("plain", w))
	}
	fmt.Printf("%s: the walks on the relocated store paths' real directories in their layers, no launcher;\n", rp)
	fmt.Printf("%s: through the launcher and its /tmp link; plain: the unrelocated image on our busybox run image.\n", r)
}
