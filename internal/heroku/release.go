package heroku

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Release is bin/release: the YAML compile left in BUILD_DIR/.nix/release.yml
// (release cannot see CACHE_DIR). It has default_process_types from
// runtime.json, or is empty when the app brings its own Procfile.
func Release(buildDir string) (string, error) {
	p := filepath.Join(buildDir, ReleaseFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("unable to read %s\n%w\nbin/compile writes it; run bin/compile on this BUILD_DIR first", p, err)
	}
	return string(data), nil
}

// ReleaseMain runs bin/release BUILD_DIR and returns its exit status.
// Further arguments are ignored: herokuish passes CACHE_DIR too.
func ReleaseMain(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprintln(stderr, errorPrefix+"usage: bin/release BUILD_DIR")
		return 2
	}
	out, err := Release(args[0])
	if err != nil {
		NewLogger(stderr).TerminalError(logError(err))
		return 1
	}
	_, _ = io.WriteString(stdout, out)
	return 0
}
