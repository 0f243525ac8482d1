package heroku

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/schedule"
)

// The app's own Procfile, kept, except for the lines in Hop3's forms that a
// Heroku-style platform would misread: compile rewrites them and keeps the
// app's original beside, to read it again on a later compile in the same
// directory.
const (
	appProcfile       = ".nix/Procfile.app"
	rewrittenProcfile = ".nix/Procfile.rewritten"
)

var procfileTypeRE = regexp.MustCompile(`^\s*([A-Za-z0-9_-]+)\s*:`)

// rewriteHop3Lines rewrites, in the app's Procfile, the lines a platform
// would misread: a cron line (its schedule would run as a command) becomes
// the launcher running the command on the schedule, and the release task
// (prerun, which Heroku does not know, or hop3.toml's before-run) becomes
// the release process type through the launcher. Every other line is kept
// byte for byte. lines are the plan's processes as Procfile lines.
func (t *slugTarget) rewriteHop3Lines(lines [][2]string, releaseSource string) error {
	path := filepath.Join(t.buildDir, "Procfile")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("unable to read %s\n%w", path, err)
	}
	ours := map[string]string{}
	for _, l := range lines {
		ours[l[0]] = l[1]
	}
	var out []string
	var changes []string
	releaseLine, hasRelease := ours[process.ReleaseType]
	appRelease := ""
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		m := procfileTypeRE.FindStringSubmatch(line)
		typ := ""
		if m != nil && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			typ = m[1]
		}
		switch {
		case typ == schedule.ProcessType && ours[typ] != "":
			out = append(out, typ+": "+ours[typ])
			changes = append(changes, "cron (its schedule is now an argument of nixbp-launch, never a command)")
		case typ == "prerun" && hasRelease:
			changes = append(changes, "prerun (Hop3's release task: now the release process type)")
		case typ == process.ReleaseType && hasRelease:
			appRelease = line
			out = append(out, line)
		default:
			out = append(out, line)
		}
	}
	// The app's own release line stays when the release task is that line
	// (Heroku's own form); otherwise the release task replaces it.
	fromAppRelease := appRelease != "" && strings.HasSuffix(releaseSource, " "+process.ReleaseType)
	if hasRelease && !fromAppRelease {
		var kept []string
		for _, l := range out {
			if appRelease == "" || l != appRelease {
				kept = append(kept, l)
			}
		}
		out = append(kept, process.ReleaseType+": "+releaseLine)
		changes = append(changes, "release (the release task through nixbp-launch)")
	}
	if len(changes) == 0 {
		return nil
	}
	text := strings.Join(out, "\n") + "\n"
	for p, content := range map[string]string{appProcfile: string(data), rewrittenProcfile: text, "Procfile": text} {
		if err := writeFile(filepath.Join(t.buildDir, p), content, 0o644); err != nil {
			return err
		}
	}
	t.log.Bodyf("Rewrote in the app's Procfile: %s; every other line is kept", strings.Join(changes, "; "))
	return nil
}

// restoreAppProcfile puts back the app's own Procfile where an earlier
// compile in the same directory rewrote it (and nothing changed it since),
// so that this compile reads what the app wrote.
func restoreAppProcfile(buildDir string) {
	app, err := os.ReadFile(filepath.Join(buildDir, appProcfile))
	if err != nil {
		return
	}
	cur, cerr := os.ReadFile(filepath.Join(buildDir, "Procfile"))
	rw, rerr := os.ReadFile(filepath.Join(buildDir, rewrittenProcfile))
	if cerr == nil && rerr == nil && string(cur) == string(rw) {
		_ = os.WriteFile(filepath.Join(buildDir, "Procfile"), app, 0o644)
	}
}

// noteHealthcheck says where hop3.toml's [healthcheck] goes on the
// platforms this front-end serves: none of their buildpack APIs carries one.
func noteHealthcheck(l log.Logger, h *config.Healthcheck) {
	if h == nil || h.Path == "" {
		return
	}
	l.Bodyf("%s: path %s: no Heroku-style buildpack API carries a health check; set it on the platform: "+
		"Cloud Foundry `cf set-health-check APP http --endpoint %s`; Dokku: app.json's healthchecks; Heroku has no application health check",
		h.Source, h.Path, h.Path)
}
