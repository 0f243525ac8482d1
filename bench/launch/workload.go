package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The in-container side. The bench binary is mounted at /bench in the app's
// container and started as its entrypoint ("inside"): it times the
// launcher's start-up (a trivial worker, -starts times), then runs the
// launcher once with itself as the worker ("workload"), which times the
// system-call-heavy workloads where the app would run them, under whatever
// /nix strategy the launcher chose. In the "plain" mode the same workloads
// run on the closure layer's real path, with no launcher at all.

// result is one mode's medians, in seconds, printed as JSON on stdout.
type result map[string]float64

// inside runs in the container: mode is plain or a strategy name, nixDir
// the view layer's nix/ (its store/ names every store path of the closure).
func inside(args []string) error {
	if len(args) < 5 {
		return fmt.Errorf("usage: inside MODE LAUNCHER NIXDIR STARTS EXECS [REPS]")
	}
	mode, launcher, nixDir := args[0], args[1], args[2]
	starts, _ := strconv.Atoi(args[3])
	execs, reps := args[4], "3"
	if len(args) > 5 {
		reps = args[5]
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	names, err := storePaths(nixDir)
	if err != nil {
		return err
	}
	res := result{}
	if mode == "plain" {
		walk := []string{self, "workload", execs, reps}
		for _, n := range names {
			dir, err := realDir(nixDir, n)
			if err != nil {
				return err
			}
			walk = append(walk, dir, n)
		}
		busybox := ""
		for i := 4; i < len(walk); i += 2 {
			if strings.HasSuffix(walk[i+1], "-bb") {
				busybox = filepath.Join(walk[i], walk[i+1], "bin", "busybox")
			}
		}
		if busybox == "" {
			return fmt.Errorf("no busybox store path (*-bb) in %s/store", nixDir)
		}
		res["start"], err = median(starts, func() error { return exec.Command(busybox, "true").Run() })
		if err != nil {
			return err
		}
		out, err := exec.Command(walk[0], walk[1:]...).Output()
		if err != nil {
			return fmt.Errorf("workload: %w", err)
		}
		return merge(res, out)
	}
	bb, store := "", storeDirIn(nixDir)
	walk := []string{self, "workload", execs, reps}
	for _, n := range names {
		walk = append(walk, "/", store+"/"+n)
		if strings.HasSuffix(n, "-bb") {
			bb = n
		}
	}
	res["start"], err = median(starts, func() error {
		cmd := exec.Command(launcher, "--quiet", "--nix-dir", nixDir, "--", "/"+store+"/"+bb+"/bin/busybox true")
		cmd.Stderr = os.Stderr
		return cmd.Run()
	})
	if err != nil {
		return fmt.Errorf("launcher start-up: %w", err)
	}
	cmd := exec.Command(launcher, "--nix-dir", nixDir, "--", strings.Join(walk, " "))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("workload through the launcher: %w", err)
	}
	return merge(res, out)
}

// storePaths are the names in the view's store/: the closure.
func storePaths(nixDir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(nixDir, "store"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") { // the view's own records
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s/store is empty", nixDir)
	}
	return names, nil
}

// realDir is the directory that really holds store path name (in its
// layer), found through the view's link; the plain mode works there.
func realDir(nixDir, name string) (string, error) {
	link := filepath.Join(nixDir, "store", name)
	target, err := os.Readlink(link)
	if err != nil { // not a link: the view holds the path itself
		return filepath.Dir(link), nil
	}
	if filepath.Base(target) != name {
		return "", fmt.Errorf("%s links to %s, not a store path of the same name", link, target)
	}
	return filepath.Dir(target), nil
}

// workload times an exec loop in busybox sh, and a find and a tar of every
// store path, each reps times, the median kept. The store paths come in
// pairs DIR REL: the path is DIR/REL, and find and tar run in DIR on REL/.
// so that plain (DIR the path's layer, REL its name) and native (DIR /,
// REL nix/store/<name>) do the same work: the same entries, names shorter
// than tar's 100 bytes in both (tar writes an extra header and name block
// for each longer one), and every lookup below REL going through what
// /nix/store/<name> resolves to.
func workload(args []string) error {
	if len(args) < 4 || len(args)%2 != 0 {
		return fmt.Errorf("usage: workload EXECS REPS DIR REL [DIR REL ...]")
	}
	reps, _ := strconv.Atoi(args[1])
	pairs := args[2:]
	busybox := ""
	for i := 0; i < len(pairs); i += 2 {
		if strings.HasSuffix(pairs[i+1], "-bb") {
			busybox = filepath.Join(pairs[i], pairs[i+1], "bin", "busybox")
		}
	}
	if busybox == "" {
		return fmt.Errorf("no busybox store path (*-bb) among %v", pairs)
	}
	loop := fmt.Sprintf(`i=0; while [ $i -lt %s ]; do %s true; i=$((i+1)); done`, args[0], busybox)
	res := result{}
	for name, argv := range map[string][]string{
		"exec": {"sh", "-c", loop},
		"find": {"find"},
		"tar":  {"tar", "-cf", "-"},
	} {
		var wall, cpu []float64
		for r := 0; r < max(reps, 1); r++ {
			start, used := time.Now(), time.Duration(0)
			for i := 0; i < len(pairs); i += 2 {
				dir, a := pairs[i], append(argv, pairs[i+1]+"/.")
				if name == "exec" {
					dir, a = "/", argv
				}
				u, err := run(dir, busybox, a)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				used += u
				if name == "exec" {
					break
				}
			}
			wall, cpu = append(wall, time.Since(start).Seconds()), append(cpu, used.Seconds())
		}
		res[name], res[name+".cpu"] = middle(wall), middle(cpu)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// run runs busybox with argv in dir, its output discarded, and returns the
// CPU time (user and system) it and the children it waited for used.
func run(dir, busybox string, argv []string) (time.Duration, error) {
	cmd := exec.Command(busybox, argv...)
	cmd.Dir, cmd.Stdout = dir, io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s %v in %s: %w: %s", busybox, argv, dir, err, stderr.String())
	}
	if stderr.Len() > 0 {
		return 0, fmt.Errorf("%s %v in %s: %s", busybox, argv, dir, stderr.String())
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// middle is the median of v.
func middle(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

// median runs f n times and returns the median duration in seconds.
func median(n int, f func() error) (float64, error) {
	if n < 1 {
		n = 1
	}
	var d []float64
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		d = append(d, time.Since(start).Seconds())
	}
	sort.Float64s(d)
	return d[len(d)/2], nil
}

func merge(into result, out []byte) error {
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("unable to read the workload's figures %q: %w", out, err)
	}
	for k, v := range r {
		into[k] = v
	}
	return json.NewEncoder(os.Stdout).Encode(into)
}
