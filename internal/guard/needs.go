package guard

import (
	"io"
	"regexp"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// unknown stands for what a shell word holds that is not known at build
// time (a variable's value, a command's output): no store path crosses it.
const unknown = "\x00"

// storePathInWord matches a store path, or a file inside one, in a word
// whose quotes are removed: spaces belong to the path, while ':' (PATH-style
// lists; never in a store path name) and unknown values end it.
var storePathInWord = regexp.MustCompile(`/nix/store/[0-9a-df-np-sv-z]{32}-[^/\x00:]+(/[^\x00:]*)?`)

// storePathInText matches a store path in free text (an env value, a
// command that does not parse), where a space ends it.
var storePathInText = regexp.MustCompile(`/nix/store/[0-9a-df-np-sv-z]{32}-[^/\s"':;$]+(/[^\s"':;$]*)?`)

// CommandStorePaths lists the store paths, or files inside them, that a
// worker's command line names, reading it as the launcher does: a POSIX
// shell word after quote removal, so '/nix/store/...-x/my www' is one path.
// Defaults of parameter expansions (${VAR:-/nix/store/...}) and words inside
// command substitutions count; variables' values are unknown at build time.
// A line that does not parse is searched as plain text.
func CommandStorePaths(line string) []string {
	f, err := syntax.NewParser().Parse(strings.NewReader(line), "")
	if err != nil {
		return TextStorePaths(line)
	}
	cfg := &expand.Config{
		Env: expand.FuncEnviron(func(string) string { return unknown }),
		CmdSubst: func(w io.Writer, _ *syntax.CmdSubst) error {
			_, err := io.WriteString(w, unknown)
			return err
		},
		ProcSubst: func(*syntax.ProcSubst) (string, error) { return unknown, nil },
	}
	var paths []string
	seen := map[string]bool{}
	syntax.Walk(f, func(n syntax.Node) bool {
		w, ok := n.(*syntax.Word)
		if !ok {
			return true
		}
		fields, err := expand.Fields(cfg, w)
		s := strings.Join(fields, unknown)
		if err != nil {
			// Arithmetic on an unknown value, say: the word's parts are
			// still visited one by one.
			return true
		}
		for _, m := range storePathInWord.FindAllString(s, -1) {
			m = strings.TrimRight(m, "/")
			if !seen[m] {
				seen[m] = true
				paths = append(paths, m)
			}
		}
		return true
	})
	return paths
}

// TextStorePaths lists the store paths, or files inside them, in free text
// such as an env value: whitespace, quotes and ':' end a path.
func TextStorePaths(s string) []string {
	var paths []string
	for _, m := range storePathInText.FindAllString(s, -1) {
		paths = append(paths, strings.TrimRight(m, "/"))
	}
	return paths
}
