// Command launch benchmarks running an app built by `pack build` under each
// way of showing its closure at /nix, inside the built image under Docker:
// a plain process on the closure layer's real path, the launcher with a
// native /nix (the run image with /nix linked to the view layer's nix/,
// whose store/ links each path to its layer: two symlink hops), with a
// user namespace (seccomp=unconfined, which Docker's default profile
// forbids) and with proot. It times the launcher's start-up and three
// system-call-heavy workloads (an exec loop in busybox sh, find and tar
// over the closure), rounds interleaved, and prints the medians and their
// ratios, after timing `pack build` of the app cold and warm. The same app
// built on the stock builder (relocated.go) adds the relocated columns.
//
//	go run ./bench/launch [-rounds 5] [-execs 500] [-dirs 150 -files 20] [-image NAME]
//
// Needs root, docker.io, proot, busybox-static, debootstrap (or the stock
// images' cached root), and pack and the lifecycle
// in .tools (scripts/setup.sh); it starts the private dockerd of
// scripts/docker and stops it again if it started it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e/docker"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// The bench app's images (-image names them, so that two runs on one
// daemon do not time each other's): as built, and rebased on the native
// run image.
var (
	image       = "nixbp-bench/launch"
	nativeImage = image + "-native"
)

const (
	// The launcher's layer and the view layer's nix/, whose store/ links
	// every store path to its layer (internal/cnb).
	launcherPath = "/layers/nix-buildpack_nix/launcher/bin/nixbp-launch"
	viewNix      = "/layers/nix-buildpack_nix/view/nix"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "inside" || os.Args[1] == "workload") {
		run := map[string]func([]string) error{"inside": inside, "workload": workload}[os.Args[1]]
		if err := run(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	rounds := flag.Int("rounds", 5, "interleaved rounds of every mode (one container each)")
	reps := flag.Int("reps", 3, "repetitions of each workload within a container (median kept)")
	starts := flag.Int("starts", 20, "launcher start-ups timed within a container (median kept)")
	execs := flag.Int("execs", 500, "execs in the exec loop")
	dirs := flag.Int("dirs", 150, "directories in the bench app's tree")
	files := flag.Int("files", 20, "files in each of those directories")
	name := flag.String("image", image, "name of the bench app's image (and prefix of its rebased copies)")
	flag.Parse()
	image, nativeImage = *name, *name+"-native"
	if err := bench(*rounds, *reps, *starts, *execs, *dirs, *files); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// mode is one way of running the workloads in the image.
type mode struct {
	// name labels the column; via is plain (no launcher) or the strategy.
	name, via, image string
	docker           []string // extra docker run options
}

func bench(rounds, reps, starts, execs, dirs, files int) error {
	repo, tools := testenv.RepoRoot(), testenv.ToolsDir()
	work, err := os.MkdirTemp("", "nixbp-bench-launch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	env, err := docker.Start(repo, tools)
	if err != nil {
		return err
	}
	defer env.Stop()
	tarball := testenv.NixTarballPath(tools)
	if _, err := os.Stat(tarball); err != nil {
		return fmt.Errorf("no Nix tarball fixture at %s (scripts/setup.sh makes it)", tarball)
	}
	cnb, err := docker.Package(repo, filepath.Join(work, "out"), tarball)
	if err != nil {
		return err
	}
	if err := env.MakeBuilder(cnb); err != nil {
		return err
	}
	app := filepath.Join(work, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		return err
	}
	if err := docker.App(repo, "hello-web", app); err != nil { // for bb/
		return err
	}
	if err := benchApp(app, dirs, files); err != nil {
		return err
	}

	// pack build, cold (no image, no cache) then warm (both reused).
	_, _ = env.Docker(time.Minute, "rmi", "-f", image)
	// The closure as built, shown at /nix by each strategy: not relocated
	// (which auto does on a builder under Docker's default seccomp).
	keep := []string{"--env", "BP_NIX_RELOCATE=never"}
	if _, cold, err := env.Build(image, app, append(keep, "--clear-cache")...); err != nil {
		return err
	} else {
		fmt.Printf("pack build of the bench app (%d files): cold %s", dirs*files, cold.Round(10*time.Millisecond))
	}
	// Keep the cold build's image for the runs: see the warm build below.
	if _, err := env.Docker(time.Minute, "tag", image, image+"-cold"); err != nil {
		return err
	}
	if _, warm, err := env.Build(image, app, keep...); err != nil {
		return err
	} else {
		fmt.Printf(", warm %s\n", warm.Round(10*time.Millisecond))
	}
	if _, err := env.Docker(time.Minute, "tag", image+"-cold", nativeImage); err != nil {
		return err
	}
	if _, err := env.PackCmd(5*time.Minute, "rebase", nativeImage, "--run-image", docker.NativeRunImage, "--pull-policy", "never", "--force"); err != nil {
		return err
	}

	reloc, err := relocatedImage(env, cnb, app, image+"-relocated")
	if err != nil {
		return err
	}

	// The bench binary itself, static, mounted into each container.
	bin := filepath.Join(work, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "launchbench"), "./bench/launch")
	build.Dir, build.Env = repo, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./bench/launch: %v\n%s", err, out)
	}

	unconfined := []string{"--security-opt", "seccomp=unconfined"}
	modes := []mode{
		{"plain", "plain", image + "-cold", nil},
		{"plain*", "plain", image + "-cold", unconfined},
		{"native", "native", nativeImage, []string{"-e", "NIXBP_STRATEGY=native"}},
		{"userns*", "userns", image + "-cold", append([]string{"-e", "NIXBP_STRATEGY=userns"}, unconfined...)},
		{"proot", "proot", image + "-cold", []string{"-e", "NIXBP_STRATEGY=proot"}},
	}
	reloced := relocatedModes(reloc)
	figures := map[string]map[string][]float64{}
	for r := 0; r < rounds; r++ {
		for _, m := range append(modes[:len(modes):len(modes)], reloced...) {
			args := append([]string{"run", "--rm", "-v", bin + ":/bench:ro", "--entrypoint", "/bench/launchbench"}, m.docker...)
			args = append(args, m.image, "inside", m.via, launcherPath, viewNix,
				fmt.Sprint(starts), fmt.Sprint(execs), fmt.Sprint(reps))
			out, err := env.Docker(10*time.Minute, args...)
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			var res result
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				return fmt.Errorf("%s: %q: %w", m.name, out, err)
			}
			if figures[m.name] == nil {
				figures[m.name] = map[string][]float64{}
			}
			for k, v := range res {
				figures[m.name][k] = append(figures[m.name][k], v)
			}
		}
	}
	printTable(modes, figures, rounds, reps, starts, execs, dirs*files)
	printRelocated(reloced, figures)
	return nil
}

func printTable(modes []mode, figures map[string]map[string][]float64, rounds, reps, starts, execs, files int) {
	workloads := []struct{ key, label string }{
		{"start", "launcher start + `busybox true`"},
		{"exec", fmt.Sprintf("exec loop (%d x busybox true)", execs)},
		{"find", fmt.Sprintf("find over the closure (%d files)", files)},
		{"tar", "tar of the closure"},
		{"exec.cpu", "exec loop, CPU (best round)"},
		{"find.cpu", "find, CPU (best round)"},
		{"tar.cpu", "tar, CPU (best round)"},
	}
	// The wall figures are the median of the rounds; the CPU figures the
	// best round: other load only ever adds to them.
	med := func(mode, key string) float64 {
		v := append([]float64(nil), figures[mode][key]...)
		sort.Float64s(v)
		if strings.HasSuffix(key, ".cpu") {
			return v[0]
		}
		return v[len(v)/2]
	}
	fmt.Printf("\nmedians of %d interleaved rounds (each the median of %d runs, %d for start-up), in ms\n", rounds, reps, starts)
	fmt.Printf("%-36s", "workload")
	for _, m := range modes {
		fmt.Printf(" %12s", m.name)
	}
	fmt.Printf(" %13s %13s %13s %13s\n", "native/plain", "userns/plain*", "userns/native", "proot/native")
	for _, w := range workloads {
		fmt.Printf("%-36s", w.label)
		for _, m := range modes {
			fmt.Printf(" %12.2f", 1000*med(m.name, w.key))
		}
		plain, plainU, native := med("plain", w.key), med("plain*", w.key), med("native", w.key)
		fmt.Printf(" %13.3f %13.3f %13.3f %13.2f\n", native/plain, med("userns*", w.key)/plainU,
			med("userns*", w.key)/native, med("proot", w.key)/native)
	}
	fmt.Println("\nplain: the same walks on each store path's real directory in its layer, no launcher; *: under --security-opt seccomp=unconfined")
	fmt.Println("(user namespaces need it: Docker's default profile refuses them). start-up for plain is `busybox true` alone.")
	fmt.Println("native: /nix -> .../view/nix, whose store/ links each path to its layer (two symlink hops per lookup)")
	fmt.Println("wall times are medians and suffer from other load; CPU (user+sys of the walk and its children) is the best round.")
	fmt.Println("target (issue 15): native/plain <= 1.02 for the exec loop, find and tar")
}
