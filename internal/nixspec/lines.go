package nixspec

import (
	"regexp"
	"strconv"
	"strings"
)

var (
	headerRE = regexp.MustCompile(`^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?`)
	keyRE    = regexp.MustCompile(`^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=`)
)

// lines finds where hop3.toml sets a key, for messages. Paths are dotted
// ("nix.exec-target"); the n-th entry of an array of tables is
// "nix.config-files#n" (n from 0). Inline tables and multi-line values are
// found by their first line only.
type lines map[string]int

func locate(data []byte) lines {
	l := lines{}
	current := ""
	count := map[string]int{}
	inMultiline := ""
	for i, text := range strings.Split(string(data), "\n") {
		n := i + 1
		if inMultiline != "" {
			if strings.Count(text, inMultiline)%2 == 1 {
				inMultiline = ""
			}
			continue
		}
		if m := headerRE.FindStringSubmatch(text); m != nil {
			path := strings.ReplaceAll(m[2], " ", "")
			if m[1] == "[[" {
				idx := count[path]
				count[path]++
				l.set(path, n)
				path += "#" + strconv.Itoa(idx)
			}
			current = l.resolve(path, count)
			l.set(current, n)
			continue
		}
		if m := keyRE.FindStringSubmatch(text); m != nil {
			key := strings.Trim(m[1], `"'`)
			full := key
			if current != "" {
				full = current + "." + key
			}
			l.set(full, n)
			rest := text[len(m[0]):]
			for _, q := range []string{`"""`, `'''`} {
				if strings.Count(rest, q)%2 == 1 {
					inMultiline = q
				}
			}
		}
	}
	return l
}

// resolve maps a header path inside an array of tables to its last entry:
// [nix.config-files.sections.server] after the second [[nix.config-files]]
// is nix.config-files#1.sections.server.
func (l lines) resolve(path string, count map[string]int) string {
	parts := strings.Split(path, ".")
	for i := len(parts) - 1; i > 0; i-- {
		prefix := strings.Join(parts[:i], ".")
		if c := count[prefix]; c > 0 && !strings.Contains(prefix, "#") {
			return prefix + "#" + strconv.Itoa(c-1) + "." + strings.Join(parts[i:], ".")
		}
	}
	return path
}

func (l lines) set(path string, n int) {
	if _, ok := l[path]; !ok {
		l[path] = n
	}
}

// of is the line of path, else of its closest enclosing table, else 1.
func (l lines) of(path string) int {
	for p := path; p != ""; {
		if n, ok := l[p]; ok {
			return n
		}
		i := strings.LastIndexAny(p, ".#")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 1
}
