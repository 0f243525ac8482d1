package heroku

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/launch"
	"github.com/nix-buildpack/nix-buildpack/internal/relocate"
)

// herokuAppDir is where Heroku and Dokku (herokuish) run the slug; both
// compile with HOME set to it. It is the app's directory at run time for
// relocation unless BP_NIX_RELOCATE_APP_DIR names one.
const herokuAppDir = "/app"

// CloudFoundryAppDir is where Cloud Foundry (Diego) and Kf run a droplet's
// app: the droplet is extracted to /home/vcap. Their builder
// (buildpackapplifecycle) calls bin/compile BUILD_DIR CACHE_DIR with no
// ENV_DIR, and bin/supply and bin/finalize exist only there, which is how
// compile knows it. AppDir/.nixs there is longer than /nix/store, so auto
// relocates to a /tmp link the launcher makes at start.
const CloudFoundryAppDir = "/home/vcap/app"

// runDir is the app's directory at run time as compile sees it: /app when
// HOME or BUILD_DIR is /app, the one the API says (Cloud Foundry's), else
// unknown ("").
func runDir(home string, dirs Dirs) string {
	if home == herokuAppDir || dirs.Build == herokuAppDir {
		return herokuAppDir
	}
	return dirs.RunDir
}

// relocateClosure replaces the slug's .nix/store by a copy relocated to
// the app's directory at run time (.nixs) when the settings ask for it
// (relocate.Slug), and records where for the launcher (.nix/relocated).
func (t *slugTarget) relocateClosure() (relocate.Outcome, error) {
	nixDir := filepath.Join(t.buildDir, NixDir)
	marker := filepath.Join(nixDir, launch.RelocatedFile)
	if data, err := os.ReadFile(marker); err == nil {
		// Reused from an earlier compile.
		dir, rest, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
		p, err := relocate.ParsePrefix(dir)
		return relocate.Outcome{Prefix: p, Link: strings.HasPrefix(rest, "link ")}, err
	}
	dst := filepath.Join(t.buildDir, relocate.SlugDir)
	out, err := relocate.Slug(filepath.Join(nixDir, "store"), dst, t.reloc, t.key, t.log)
	if err != nil || out.Prefix == "" {
		if out.Skipped != "" {
			t.log.Bodyf("warning: not relocating the closure (it stays in %s/store, shown at /nix at run time, which needs user namespaces or ptrace): %s",
				NixDir, out.Skipped)
		}
		return out, err
	}
	if err := writeFile(filepath.Join(dst, launch.ClosureIDFile), t.key+"\n", 0o444); err != nil {
		return out, err
	}
	text := out.Prefix.Dir() + "\n"
	if out.Link {
		text += "link ../" + relocate.SlugDir + "\n"
	}
	return out, writeFile(marker, text, 0o644)
}

// linkGuard, in .profile.d/nix.sh of a slug relocated for a /tmp link,
// makes the link when a shell starts (heroku run bash, before any process
// started the launcher), so that PATH's relocated entries resolve. It
// guards them: when the launcher refuses the link (another user's, say),
// it says why on stderr and the shell gets no PATH entry or variable that
// would lead through the link (issue 21, row 1).
const linkGuard = `"$` + NixDirVar + `/bin/nixbp-launch" --quiet --nix-dir "$` + NixDirVar + `" -- true`

// linkRefused is what the shell is told after the launcher's own reason.
const linkRefused = "nix-buildpack: the relocated closure's /tmp link is refused (see above): " +
	"PATH and the app's environment are left without its Nix store, so nothing runs through a link another user controls"
