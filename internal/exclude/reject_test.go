package exclude

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// rejectTree holds names that a loose reading of the rejected patterns below
// would match, so rsync would exclude something if the claim were wrong.
var rejectTree = []string{
	"a", "b", "x", "ab", "[", "a[", "a[b", "*[._so", "libfoo.so", "x\\", `a\`, "alpha", "1",
	"+foo", "-foo", "!foo", "P foo", "H foo", "include foo", "-_foo", "+", "-",
	"d/a", "d/b", "d/x", "d/a[b", "d/..x",
}

// TestRejectedPatternsNeverMatch checks the claim behind the parse errors for
// patterns rsync accepts: that rsync never matches them. Each pattern is run
// as the only exclude rule; rsync must keep the whole tree.
func TestRejectedPatternsNeverMatch(t *testing.T) {
	rsync := testenv.Require(t, "rsync")
	patterns := []string{
		"*[._so*", "[", "a[", "a[b", "[!", "[]", `[\`, `[a-\`, "*[[:alpha:]", "[[:alpha:]",
		"*[[:foo:]]*", "[[:ALPHA:]]*", "[[::]]*", `*\`, `a*\`,
		"/", "//", "///", "a//b", "*//", "a//", "//a", "**//x", "d//a",
		"./a", "d/./a", "a/..", "**/./x", "/.", "..", "*/..", "d/../d/a",
	}
	src, all := makeRejectTree(t)
	var cases []func() error
	for i, p := range patterns {
		if _, err := ParseRules(strings.NewReader("- "+p), "f"); err == nil {
			t.Errorf("pattern %q parses, want an error", p)
			continue
		}
		cases = append(cases, func() error {
			kept, err := rsyncList(rsync, src, "- "+p, i)
			if err != nil {
				return err
			}
			if kept != all {
				return fmt.Errorf("rsync with \"- %s\" keeps\n%s\nnot the whole tree\n%s", p, kept, all)
			}
			return nil
		})
	}
	runAll(t, 16, cases)
}

// TestRejectedPrefixesAreLiteralInRsync checks what the errors for
// filter-rule prefixes tell the user: rsync --exclude-from reads such a line
// as an exclude of the file literally named by the whole line.
func TestRejectedPrefixesAreLiteralInRsync(t *testing.T) {
	rsync := testenv.Require(t, "rsync")
	src, all := makeRejectTree(t)
	var cases []func() error
	for i, line := range []string{"+foo", "-foo", "!foo", "P foo", "H foo", "include foo", "-_foo", "+", "-"} {
		if _, err := ParseRules(strings.NewReader(line), "f"); err == nil {
			t.Errorf("line %q parses, want an error", line)
		}
		cases = append(cases, func() error {
			kept, err := rsyncList(rsync, src, line, 100+i)
			if err != nil {
				return err
			}
			want := strings.Replace(all, line+"\n", "", 1)
			if kept != want {
				return fmt.Errorf("rsync with line %q keeps\n%s\nwant all but %q", line, kept, line)
			}
			return nil
		})
	}
	runAll(t, 16, cases)
}

func makeRejectTree(t *testing.T) (src, listing string) {
	src = filepath.Join(tempDir(t), "src")
	for _, p := range rejectTree {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755))
		must(t, os.WriteFile(filepath.Join(src, p), nil, 0o644))
	}
	listing, err := rsyncList(testenv.Require(t, "rsync"), src, "# nothing", 999)
	if err != nil {
		t.Fatal(err)
	}
	return src, listing
}

// rsyncList is rsync's dry-run listing of src under a one-line rule file.
func rsyncList(rsync, src, rule string, n int) (string, error) {
	file := filepath.Join(filepath.Dir(src), fmt.Sprintf("rule%d", n))
	if err := os.WriteFile(file, []byte(rule+"\n"), 0o644); err != nil {
		return "", err
	}
	cmd := exec.Command(rsync, "-a", "--dry-run", "--out-format=%n", "--exclude-from="+file, src+"/", filepath.Join(filepath.Dir(src), "absent")+"/")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("rsync with %q: %v\n%s", rule, err, out)
	}
	return string(out), nil
}
