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

// inside runs in the container: mode is plain or a strategy name.
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
	realStore := filepath.Join(nixDir, "store")
	bb, err := busyboxIn(realStore)
	if err != nil {
		return err
	}
	res := result{}
	if mode == "plain" {
		res["start"], err = median(starts, func() error { return exec.Command(filepath.Join(realStore, bb)+"/bin/busybox", "true").Run() })
		if err != nil {
			return err
		}
		out, err := exec.Command(self, "workload", realStore, execs, reps).Output()
		if err != nil {
			return fmt.Errorf("workload: %w", err)
		}
		return merge(res, out)
	}
	res["start"], err = median(starts, func() error {
		cmd := exec.Command(launcher, "--quiet", "--nix-dir", nixDir, "--", "/nix/store/"+bb+"/bin/busybox true")
		cmd.Stderr = os.Stderr
		return cmd.Run()
	})
	if err != nil {
		return fmt.Errorf("launcher start-up: %w", err)
	}
	cmd := exec.Command(launcher, "--nix-dir", nixDir, "--", fmt.Sprintf("%s workload /nix/store %s %s", self, execs, reps))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("workload through the launcher: %w", err)
	}
	return merge(res, out)
}

// workload times, on the store at store: an exec loop in busybox sh, a
// find and a tar of the whole store; each reps times, the median kept.
func workload(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: workload STORE EXECS REPS")
	}
	store := args[0]
	reps, _ := strconv.Atoi(args[2])
	bb, err := busyboxIn(store)
	if err != nil {
		return err
	}
	busybox := filepath.Join(store, bb, "bin", "busybox")
	loop := fmt.Sprintf(`i=0; while [ $i -lt %s ]; do %s true; i=$((i+1)); done`, args[1], busybox)
	res := result{}
	for name, argv := range map[string][]string{
		"exec": {busybox, "sh", "-c", loop},
		"find": {busybox, "find", store},
		"tar":  {busybox, "tar", "-cf", "-", "-C", store, "."},
	} {
		if res[name], err = median(reps, func() error {
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Stdout = io.Discard
			return cmd.Run()
		}); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// busyboxIn finds the fixture's busybox store path (<hash>-bb) in store.
func busyboxIn(store string) (string, error) {
	m, _ := filepath.Glob(filepath.Join(store, "*-bb"))
	if len(m) != 1 {
		return "", fmt.Errorf("%s holds %d busybox store paths (*-bb), want 1", store, len(m))
	}
	return filepath.Base(m[0]), nil
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
