package heroku

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/paketo-buildpacks/libpak/v2/log"
)

func TestLoggerFormat(t *testing.T) {
	var out strings.Builder
	l := NewLogger(&out)
	l.Title("Nix Buildpack", "0.1.0", "")
	l.Headerf("Building %s", "\x1b[2mhop3.nix\x1b[0m")
	// Nix writes in pieces that end mid-line.
	fmt.Fprint(l.BodyWriter(), "these derivations ")
	fmt.Fprint(l.BodyWriter(), "will be built:\n  /nix/store/x.drv\nbuilding")
	fmt.Fprint(l.BodyWriter(), " '/nix/store/x.drv'...\n")
	l.Body("Built /nix/store/x")
	l.TerminalError(log.IdentifiableError{Name: "Nix build failed", Err: errors.New("hop3.nix: nix-build failed\nfix it")})
	want := "-----> Nix Buildpack 0.1.0\n" +
		"-----> Building hop3.nix\n" +
		"       these derivations will be built:\n" +
		"         /nix/store/x.drv\n" +
		"       building '/nix/store/x.drv'...\n" +
		"       Built /nix/store/x\n" +
		" !     Nix build failed\n" +
		" !     hop3.nix: nix-build failed\n" +
		" !     fix it\n"
	if out.String() != want {
		t.Fatalf("log =\n%s\nwant\n%s", out.String(), want)
	}
}
