package heroku

import (
	"errors"
	"fmt"
	"io"

	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
)

// DetectName is what bin/detect prints when the app is built with Nix.
const DetectName = "Nix"

// Detect is the Heroku-style bin/detect BUILD_DIR: it prints "Nix" and
// returns 0 when the app has a Nix expression, returns 1 quietly when it
// has none, and returns 1 with the reason on stderr when hop3.toml is
// malformed (naming the file and line).
func Detect(buildDir string, stdout, stderr io.Writer) int {
	_, err := config.Load(buildDir)
	switch {
	case err == nil:
		fmt.Fprintln(stdout, DetectName)
		return 0
	case errors.Is(err, config.ErrNotNix):
		return 1
	}
	NewLogger(stderr).TerminalError(logError(err))
	return 1
}

func logError(err error) log.IdentifiableError { return log.IdentifiableError{Err: err} }
