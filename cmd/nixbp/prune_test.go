package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

const pruneRules = `+ store/**/
+ store/*-user-environment/**
+ *[._]so*
+ store/*my-awesome-app*/**
- store/**
`

// pruneFixture writes a small store and the rule file; it returns SRC and
// the rule file.
func pruneFixture(t *testing.T) (string, string) {
	t.Helper()
	tmp := t.TempDir()
	src := filepath.Join(tmp, "nix")
	for p, data := range map[string]string{
		"store/0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-my-awesome-app-1.0/bin/web": "#!/bin/sh\n",
		"store/1a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-glibc-2.38/lib/libc.so.6":   "ELF",
		"store/1a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-glibc-2.38/include/stdio.h": "#include",
		"var/nix/db/db.sqlite": "db",
	} {
		f := filepath.Join(src, p)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(data), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	env := filepath.Join(src, "store/2a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-user-environment/bin")
	if err := os.MkdirAll(env, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nix/store/0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-my-awesome-app-1.0/bin/web", filepath.Join(env, "web")); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1, 0)
	filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&fs.ModeSymlink == 0 {
			os.Chtimes(p, old, old)
		}
		return err
	})
	rules := filepath.Join(tmp, ".slugexclude")
	if err := os.WriteFile(rules, []byte(pruneRules), 0o644); err != nil {
		t.Fatal(err)
	}
	return src, rules
}

// listing describes a tree by name, mode, mtime and symlink target.
func listing(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		st := fi.Sys().(*syscall.Stat_t)
		line := fmt.Sprintf("%s %v %d.%d", rel, fi.Mode(), st.Mtim.Sec, st.Mtim.Nsec)
		if fi.Mode()&fs.ModeSymlink != 0 {
			// rsync leaves a new symlink's time alone when the source's is in
			// the same second (internal/prune TestRsyncDirTimeQuirk), and the
			// fixture's symlink is that new.
			line = fmt.Sprintf("%s %v", rel, fi.Mode())
			target, _ := os.Readlink(p)
			line += " -> " + target
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

func TestPruneMatchesRsync(t *testing.T) {
	rsync := testenv.Require(t, "rsync")
	src, rules := pruneFixture(t)
	for _, flags := range [][]string{nil, {"--prune-empty-dirs"}, {"--link"}, {"--prune-empty-dirs", "--link"}} {
		tmp := t.TempDir()
		want, got := filepath.Join(tmp, "rsync"), filepath.Join(tmp, "nixbp", "dst")
		rsyncArgs := []string{"-a", "--exclude-from=" + rules, src + "/", want + "/"}
		if len(flags) > 0 && flags[0] == "--prune-empty-dirs" {
			rsyncArgs = append([]string{"--prune-empty-dirs"}, rsyncArgs...)
		}
		if out, err := exec.Command(rsync, rsyncArgs...).CombinedOutput(); err != nil {
			t.Fatalf("rsync: %v\n%s", err, out)
		}
		var stdout, stderr bytes.Buffer
		args := append([]string{"--exclude-from", rules}, flags...)
		if err := runPrune(append(args, src, got), &stdout, &stderr); err != nil {
			t.Fatalf("runPrune %v: %v", flags, err)
		}
		if w, g := listing(t, want), listing(t, got); w != g {
			t.Errorf("%v: rsync made\n%s\nnixbp prune made\n%s", flags, w, g)
		}
		if !strings.Contains(stderr.String(), "nixbp prune: kept ") {
			t.Errorf("no summary on stderr: %q", stderr.String())
		}
	}
}

func TestPruneDryRun(t *testing.T) {
	rsync := testenv.Require(t, "rsync")
	src, rules := pruneFixture(t)
	for _, prune := range []bool{false, true} {
		args := []string{"-a", "--dry-run", "--out-format=%n", "--exclude-from=" + rules, src + "/", filepath.Join(t.TempDir(), "absent") + "/"}
		ours := []string{"--dry-run", src + "/", "--exclude-from", rules} // flags after paths work too
		if prune {
			args = append([]string{"--prune-empty-dirs"}, args...)
			ours = append(ours, "--prune-empty-dirs")
		}
		out, err := exec.Command(rsync, args...).Output()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "./" {
				want = append(want, strings.TrimSuffix(l, "/"))
			}
		}
		sort.Strings(want)
		var stdout, stderr bytes.Buffer
		if err := runPrune(ours, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(stdout.String()); got != strings.Join(want, "\n") {
			t.Errorf("prune=%v: --dry-run printed\n%s\nrsync lists\n%s", prune, got, strings.Join(want, "\n"))
		}
	}
}

func TestPruneExplain(t *testing.T) {
	src, rules := pruneFixture(t)
	for path, want := range map[string]string{
		"store/0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-my-awesome-app-1.0/bin/web": "is kept by " + rules + ":4: + store/*my-awesome-app*/**",
		"store/1a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-glibc-2.38/include/stdio.h": "is dropped by " + rules + ":5: - store/**",
		"var/nix/db": "var/nix/db is kept by default (no rule matched)",
	} {
		var stdout, stderr bytes.Buffer
		if err := runPrune([]string{"--exclude-from", rules, "--explain", path, src}, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--explain %s printed\n%s\nwant %q", path, stdout.String(), want)
		}
	}
}

func TestPruneErrors(t *testing.T) {
	src, rules := pruneFixture(t)
	bad := filepath.Join(t.TempDir(), ".slugexclude")
	if err := os.WriteFile(bad, []byte("+ store/**/\n+ lib/\n+ *[._so*\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	tests := []struct {
		args []string
		err  string
	}{
		{nil, "takes SRC and DST"},
		{[]string{src}, "takes SRC and DST"},
		{[]string{src, dst, dst}, "takes SRC and DST"},
		{[]string{"--dry-run", "--explain", "x", src}, "do not go together"},
		{[]string{"--frobnicate", src, dst}, "flag provided but not defined: -frobnicate"},
		{[]string{"--exclude-from", bad, src, dst}, bad + `:3: unbalanced '[' in pattern "*[._so*"; close the bracket or escape it as \[`},
		{[]string{"--exclude-from", bad + ".missing", src, dst}, "unable to open rule file"},
		{[]string{"--exclude-from", rules, src + "/missing", dst}, "unable to read source"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := runPrune(tt.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("runPrune(%q) = %v, want %q", tt.args, err, tt.err)
		}
	}
	if _, err := os.Stat(dst); err == nil {
		t.Error("a failed run created DST")
	}
	var stdout bytes.Buffer
	if err := runPrune([]string{"-h"}, &stdout, &stdout); err != nil || !strings.Contains(stdout.String(), "usage: nixbp prune") {
		t.Errorf("-h: %v %q", err, stdout.String())
	}
}

func TestPruneWarnings(t *testing.T) {
	src, _ := pruneFixture(t)
	rules := filepath.Join(t.TempDir(), "rules")
	if err := os.WriteFile(rules, []byte("- nothing-is-called-this\n- trailing \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := runPrune([]string{"--dry-run", "--exclude-from", rules, src}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"warning: " + rules + `:2: pattern "trailing " ends with whitespace`,
		"warning: " + rules + `:1: rule "- nothing-is-called-this" decided nothing in ` + src,
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
