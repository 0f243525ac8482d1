package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTimes is CPU time used so far by this process, its finished children
// (nix-store, zstd, nix) and the S3 server, so each method's figures show
// where its time went. Untimed setup inside a method counts too.
type cpuTimes struct{ self, selfSys, children, childrenSys, server time.Duration }

func (b *bench) cpu() cpuTimes {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	t := cpuTimes{self: rusageTime(&self), selfSys: time.Duration(self.Stime.Nano()),
		children: rusageTime(&children), childrenSys: time.Duration(children.Stime.Nano())}
	if b.s3Cmd != nil && b.s3Cmd.Process != nil {
		t.server = procCPU(b.s3Cmd.Process.Pid)
	}
	return t
}

func (t cpuTimes) sub(before cpuTimes) cpuTimes {
	return cpuTimes{self: t.self - before.self, selfSys: t.selfSys - before.selfSys, children: t.children - before.children,
		childrenSys: t.childrenSys - before.childrenSys, server: t.server - before.server}
}

func (t cpuTimes) total() time.Duration { return t.self + t.children + t.server }

func (t cpuTimes) String() string {
	return fmt.Sprintf("cpu: self %.2f s (sys %.2f), tools %.2f s (sys %.2f), S3 server %.2f s",
		t.self.Seconds(), t.selfSys.Seconds(), t.children.Seconds(), t.childrenSys.Seconds(), t.server.Seconds())
}

func rusageTime(r *syscall.Rusage) time.Duration {
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// procCPU reads a running process's user+system time from /proc.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// clock times the restore part of a method: wall time and CPU time.
type clock struct {
	b       *bench
	started time.Time
	cpu0    cpuTimes
	wall    time.Duration
	cpu     cpuTimes
}

func (c *clock) start() {
	c.cpu0 = c.b.cpu()
	c.started = time.Now()
}

func (c *clock) stop() {
	c.wall = time.Since(c.started)
	c.cpu = c.b.cpu().sub(c.cpu0)
}
