package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// ErrEndedFirst says that bin/compile ended before the kill was due.
var ErrEndedFirst = errors.New("bin/compile ended before it was killed")

// CompileKilledAt runs bin/compile as Compile does and, delay after a line
// of its output contains marker, SIGKILLs its whole process group (the
// buildpack and the Nix it runs), as a platform killing a build does. It
// returns the output up to the kill; an error says compile ended first.
func (a *HerokuApp) CompileKilledAt(env map[string]string, marker string, delay time.Duration) (string, error) {
	cmd := a.command("compile", env, a.Build, a.Cache, a.EnvDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return "", err
	}
	defer r.Close()
	var out strings.Builder
	killed := make(chan struct{})
	sc := bufio.NewScanner(r)
	var timer *time.Timer
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if timer == nil && strings.Contains(sc.Text(), marker) {
			timer = time.AfterFunc(delay, func() {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				close(killed)
			})
		}
	}
	_ = cmd.Wait()
	if timer == nil || timer.Stop() {
		return out.String(), fmt.Errorf("%w (%v)", ErrEndedFirst, cmd.ProcessState)
	}
	<-killed
	return out.String(), nil
}
