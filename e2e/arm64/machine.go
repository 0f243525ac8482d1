//go:build arm64emu

// Package arm64 runs the end-to-end tests on linux/arm64, in an emulated
// arm64 machine (qemu-system-aarch64) on an amd64 one. qemu-user cannot
// show /nix the ways the buildpack does (it implements neither ptrace nor
// clone with CLONE_NEWUSER), so TestArm64 boots Debian 12's arm64 kernel
// with a small Debian arm64 root as its initrd (scripts/arm64.sh machine),
// builds this package's tests for arm64 and runs them there (TestGuest),
// with the packaged buildpack, the arm64 lifecycle and the arm64 Nix
// tarball shared over virtio 9p at their paths. The files are built only
// with -tags arm64emu: scripts/arm64.sh test runs them.
package arm64

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Share is a directory of this machine that the emulated one mounts at the
// same path.
type Share struct {
	Path     string
	Writable bool
}

// Machine is an emulated arm64 machine booted for one script.
type Machine struct {
	// Dir holds vmlinuz and initrd.gz (scripts/arm64.sh machine).
	Dir string
	// Work is mounted at /nixbp-work: the machine's init runs
	// /nixbp-work/run.sh, which Run writes, and the script's exit status
	// comes back there.
	Work string
	// Shares are mounted before the script runs.
	Shares []Share
	// CPUs and MemoryMiB size the machine (defaults 2 and 3072).
	CPUs, MemoryMiB int
}

// exitFile is where run.sh leaves the script's exit status in Work.
const exitFile = "exit-status"

// Run boots the machine, runs script with bash in it as root, and powers it
// off; the console (the script's output with it) goes to out. It returns
// the script's exit status, or an error when the machine did not get to
// report one (ctx ended, qemu failed, the script was killed).
func (m Machine) Run(ctx context.Context, script string, out io.Writer) (int, error) {
	if err := os.WriteFile(filepath.Join(m.Work, "run.sh"), []byte(m.runScript(script)), 0o755); err != nil {
		return 0, fmt.Errorf("unable to write %s\n%w", filepath.Join(m.Work, "run.sh"), err)
	}
	_ = os.Remove(filepath.Join(m.Work, exitFile))
	cpus, mem := m.CPUs, m.MemoryMiB
	if cpus == 0 {
		cpus = 2
	}
	if mem == 0 {
		mem = 3072
	}
	args := []string{"-M", "virt", "-cpu", "cortex-a57", "-smp", strconv.Itoa(cpus), "-m", strconv.Itoa(mem),
		"-nographic", "-no-reboot", "-nic", "none",
		"-kernel", filepath.Join(m.Dir, "vmlinuz"), "-initrd", filepath.Join(m.Dir, "initrd.gz"),
		"-append", "console=ttyAMA0 panic=-1 quiet",
		"-virtfs", "local,path=" + m.Work + ",mount_tag=work,security_model=passthrough"}
	for i, s := range m.Shares {
		if strings.ContainsAny(s.Path, ", \n") {
			return 0, fmt.Errorf("%s: qemu's -virtfs cannot share a path with a comma, space or newline", s.Path)
		}
		opt := fmt.Sprintf("local,path=%s,mount_tag=s%d,security_model=passthrough", s.Path, i)
		if !s.Writable {
			opt += ",readonly=on"
		}
		args = append(args, "-virtfs", opt)
	}
	cmd := exec.CommandContext(ctx, "qemu-system-aarch64", args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("the emulated machine did not finish: %w", ctx.Err())
		}
		return 0, fmt.Errorf("qemu-system-aarch64: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(m.Work, exitFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, errors.New("the emulated machine powered off without the script's exit status (see its console)")
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// runScript mounts the shares, runs script in a subshell and records its
// exit status.
func (m Machine) runScript(script string) string {
	var b strings.Builder
	b.WriteString("set -u\n")
	for i, s := range m.Shares {
		ro := ",ro"
		if s.Writable {
			ro = ""
		}
		fmt.Fprintf(&b, "mkdir -p %[1]q && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000%[3]s s%[2]d %[1]q || { echo 'run.sh: cannot mount s%[2]d at %[1]s'; exit 1; }\n",
			s.Path, i, ro)
	}
	fmt.Fprintf(&b, "(\n%s\n)\necho $? > /nixbp-work/%s\n", script, exitFile)
	return b.String()
}
