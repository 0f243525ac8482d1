package prune

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestPlanMatchesRsync is the differential test of the rules: for many
// seeded random trees and rule files, Plan must keep exactly the paths that
// `rsync -a [-m] --exclude-from --dry-run` lists.
func TestPlanMatchesRsync(t *testing.T) {
	rsync := testenv.Require(t, "rsync")
	const trees, ruleFiles = 40, 12
	var cases []func() error
	for seed := int64(1); seed <= trees; seed++ {
		rng := rand.New(rand.NewSource(seed))
		tmp := tempDir(t)
		src := filepath.Join(tmp, "src")
		must(t, os.Mkdir(src, 0o755))
		g := makeTree(t, rng, src)
		for k := 0; k < ruleFiles; k++ {
			lines := genRuleFile(rng, g.paths)
			cases = append(cases, func() error { return checkPlan(rsync, tmp, src, lines, k) })
		}
	}
	runAll(t, 16, cases)
}

// TestCopyMatchesRsync is the differential test of the copy: real
// `rsync -a [-m] --exclude-from` and Copy (copying, and hard-linking) must
// produce identical trees: names, types, modes, owners, symlink targets,
// contents, and the mtimes of everything, the root included.
func TestCopyMatchesRsync(t *testing.T) {
	rsync := testenv.Require(t, "rsync")
	const trees, ruleFiles = 12, 3
	var cases []func() error
	for seed := int64(100); seed < 100+trees; seed++ {
		rng := rand.New(rand.NewSource(seed))
		tmp := tempDir(t)
		src := filepath.Join(tmp, "src")
		must(t, os.Mkdir(src, 0o755))
		g := makeTree(t, rng, src)
		if os.Geteuid() == 0 {
			chownSome(t, rng, src, g.paths)
		}
		for k := 0; k < ruleFiles; k++ {
			lines := genRuleFile(rng, g.paths)
			cases = append(cases, func() error { return checkRuleFile(rsync, tmp, src, lines, k) })
		}
	}
	runAll(t, 8, cases)
}

func runAll(t *testing.T, n int, cases []func() error) { testenv.RunAll(t, n, cases) }

// checkPlan compares Plan with rsync's dry-run listing for one rule file.
func checkPlan(rsync, tmp, src string, lines []string, k int) error {
	text := strings.Join(lines, "\n") + "\n"
	file := filepath.Join(tmp, fmt.Sprintf("plan-rules%d", k))
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		return err
	}
	rules, err := exclude.ParseRules(strings.NewReader(text), file)
	if err != nil {
		return fmt.Errorf("generated rules do not parse: %v", err)
	}
	for _, prune := range []bool{false, true} {
		args := []string{"-a", "--dry-run", "--out-format=%n", "--exclude-from=" + file, src + "/", filepath.Join(tmp, "absent") + "/"}
		if prune {
			args = append([]string{"--prune-empty-dirs"}, args...)
		}
		cmd := exec.Command(rsync, args...)
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("rsync %v: %v", args, err)
		}
		var want []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l = strings.TrimSuffix(l, "/"); l != "." && l != "" {
				want = append(want, l)
			}
		}
		sort.Strings(want)
		rep, err := Plan(src, rules, Options{PruneEmptyDirs: prune})
		if err != nil {
			return fmt.Errorf("Plan: %v", err)
		}
		if got := rep.KeptPaths(); !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
			return fmt.Errorf("prune=%v: Plan differs from rsync with rules:\n%s%s", prune, text, diffLists(want, got))
		}
	}
	return nil
}

func diffLists(want, got []string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, p := range want {
		w[p] = true
	}
	for _, p := range got {
		g[p] = true
	}
	var b strings.Builder
	for _, p := range want {
		if !g[p] {
			fmt.Fprintf(&b, "  only rsync keeps %q\n", p)
		}
	}
	for _, p := range got {
		if !w[p] {
			fmt.Fprintf(&b, "  only Plan keeps %q\n", p)
		}
	}
	return b.String()
}

// checkRuleFile compares rsync and Copy for one rule file, with and without
// pruning, copying and hard-linking.
func checkRuleFile(rsync, tmp, src string, lines []string, k int) error {
	text := strings.Join(lines, "\n") + "\n"
	file := filepath.Join(tmp, fmt.Sprintf("rules%d", k))
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		return err
	}
	rules, err := exclude.ParseRules(strings.NewReader(text), file)
	if err != nil {
		return fmt.Errorf("generated rules do not parse: %v", err)
	}
	for _, prune := range []bool{false, true} {
		want := filepath.Join(tmp, fmt.Sprintf("rsync%d-%v", k, prune))
		if err := rsyncCopy(rsync, file, src, want, prune); err != nil {
			return err
		}
		wantSnap, err := snapshot(want)
		if err != nil {
			return err
		}
		var paths []string
		for p := range wantSnap {
			if p != "." {
				paths = append(paths, p)
			}
		}
		sort.Strings(paths)
		for _, link := range []bool{false, true} {
			got := filepath.Join(tmp, fmt.Sprintf("ours%d-%v-%v", k, prune, link))
			rep, err := Copy(src, got, rules, Options{PruneEmptyDirs: prune, Link: link})
			if err != nil {
				return fmt.Errorf("Copy: %v", err)
			}
			gotSnap, err := snapshot(got)
			if err != nil {
				return err
			}
			if d := diffSnapshots(wantSnap, gotSnap); d != "" {
				return fmt.Errorf("prune=%v link=%v: Copy differs from rsync with rules:\n%s%s", prune, link, text, d)
			}
			if kept := rep.KeptPaths(); !reflect.DeepEqual(kept, paths) && len(kept)+len(paths) > 0 {
				return fmt.Errorf("prune=%v: Plan lists %q, rsync created %q, rules:\n%s", prune, kept, paths, text)
			}
		}
	}
	return nil
}

func chownSome(t *testing.T, rng *rand.Rand, root string, paths []string) {
	for _, p := range paths {
		if rng.Intn(5) == 0 {
			must(t, os.Lchown(filepath.Join(root, p), 1000+rng.Intn(3), 2000+rng.Intn(3)))
		}
	}
}

// genRuleFile makes 1 to 8 rules from the tree's own names, mutated with
// wildcards, classes, escapes, anchors and directory suffixes, with the odd
// comment, blank line and "!". Lines our parser rejects are left out (the
// rejections are checked against rsync in TestRejectedPatternsNeverMatch).
func genRuleFile(rng *rand.Rand, paths []string) []string {
	var lines []string
	for n := 1 + rng.Intn(8); len(lines) < n; {
		var line string
		switch k := rng.Intn(40); {
		case k == 0:
			line = "!"
		case k == 1:
			line = "# a comment"
		case k == 2:
			line = ""
		default:
			line = genRuleLine(rng, paths)
		}
		if _, err := exclude.ParseRules(strings.NewReader(line), "gen"); err != nil {
			continue
		}
		lines = append(lines, line)
	}
	if rng.Intn(3) == 0 {
		lines = append(lines, []string{"- *", "- **", "- */", "+ */", "- /*"}[rng.Intn(5)])
	}
	return lines
}

var genericPatterns = []string{
	"*", "**", "***", ".*", "*.so*", "*[._]so*", "lib", "**/lib", "/*", "*/*", "*/**", "?", "[a-z]*",
	"[!a-z]*", "*[[:upper:]]*", "**/*.so.1", "lib*/", "*-*", "**?**", "a/**/b", "/**/lib/**", "[]x]*",
}

func genRuleLine(rng *rand.Rand, paths []string) string {
	var pat string
	if rng.Intn(6) == 0 || len(paths) == 0 {
		pat = genericPatterns[rng.Intn(len(genericPatterns))]
	} else {
		comps := strings.Split(paths[rng.Intn(len(paths))], "/")
		k := rng.Intn(len(comps))
		comps = comps[k:]
		for i := range comps {
			if rng.Intn(3) == 0 {
				comps[i] = mutate(rng, comps[i])
			}
		}
		pat = strings.Join(comps, "/")
		switch {
		case k == 0 && rng.Intn(2) == 0:
			pat = "/" + pat
		case rng.Intn(5) == 0:
			pat = "**/" + pat
		}
	}
	switch rng.Intn(8) {
	case 0:
		pat += "/"
	case 1:
		pat += "/***"
	case 2:
		pat += "/**"
	case 3:
		pat += "*"
	}
	switch rng.Intn(5) {
	case 0, 1:
		return "+ " + pat
	case 2, 3:
		return "- " + pat
	default:
		return pat
	}
}

func mutate(rng *rand.Rand, s string) string {
	if s == "" {
		return "*"
	}
	i := rng.Intn(len(s))
	j := i + rng.Intn(len(s)-i) + 1
	switch rng.Intn(11) {
	case 0:
		return s[:i] + "?" + s[i+1:]
	case 1:
		return s[:i] + "*" + s[j:]
	case 2:
		return "*"
	case 3:
		return s[:i] + "**" + s[j:]
	case 4:
		return s[:i] + "[" + s[i:i+1] + "xy]" + s[i+1:]
	case 5:
		return s[:i] + "[!" + s[i:i+1] + "]" + s[i+1:]
	case 6:
		return s[:i] + "[a-z]" + s[i+1:]
	case 7:
		return s[:i] + "[[:alpha:][:punct:]]" + s[i+1:]
	case 8:
		return s[:i] + `\` + s[i:]
	case 9:
		return s + "*"
	default:
		return s[:i] + "[^" + s[i:i+1] + "-z]" + s[i+1:]
	}
}
