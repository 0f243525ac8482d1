package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var procfileLineRE = regexp.MustCompile(`^([A-Za-z0-9_-]+):\s*(.+)$`)

// readProcfile reads "type: command line" lines; blank lines and lines
// starting with # are skipped, and so are lines that start the launcher (a
// Procfile this buildpack wrote on an earlier compile). The last line for a
// type wins; lines gives its line number.
func readProcfile(dir, name string) (workers map[string]string, lines map[string]int, err error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, nil, fmt.Errorf("unable to read %s\n%w", name, err)
	}
	workers, lines = map[string]string{}, map[string]int{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := procfileLineRE.FindStringSubmatch(line)
		if m == nil {
			return nil, nil, fmt.Errorf("%s:%d: expected \"<process type>: <command line>\", got %q\n"+
				"a process type holds letters, digits, '-' and '_'", name, i+1, line)
		}
		if strings.Contains(m[2], "nixbp-launch") {
			continue // written by the buildpack's Heroku-style compile from runtime.json
		}
		workers[m[1]], lines[m[1]] = strings.TrimSpace(m[2]), i+1
	}
	return workers, lines, nil
}
