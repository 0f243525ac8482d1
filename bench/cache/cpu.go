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
type cpuTimes struct{ self, selfSys, children, server time.Duration }

func (b *bench) cpu() cpuTimes {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	t := cpuTimes{self: rusageTime(&self), selfSys: time.Duration(self.Stime.Nano()), children: rusageTime(&children)}
	if b.s3Cmd != nil && b.s3Cmd.Process != nil {
		t.server = procCPU(b.s3Cmd.Process.Pid)
	}
	return t
}

func (t cpuTimes) since(before cpuTimes) string {
	return fmt.Sprintf("cpu: self %.2f s (sys %.2f s), tools %.2f s, S3 server %.2f s",
		(t.self - before.self).Seconds(), (t.selfSys - before.selfSys).Seconds(),
		(t.children - before.children).Seconds(), (t.server - before.server).Seconds())
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
