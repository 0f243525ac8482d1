package process

import (
	"fmt"

	"github.com/nix-buildpack/nix-buildpack/internal/schedule"
)

// ReleaseType is the process type that runs the release task alone: the
// Procfile's release process (Heroku's and Dokku's release phase), and a
// process a CNB platform may run before rolling out (a Kubernetes Job).
const ReleaseType = "release"

// runtimeFeatures gives the processes what Hop3 does around them: cron's
// schedule, the release task, the addons.
func (p *Plan) runtimeFeatures(d Declared, l Launcher, from map[string]string) error {
	for i := range p.Processes {
		pr := &p.Processes[i]
		pr.Addons = d.Addons
		if pr.Type != schedule.ProcessType || pr.Static != "" {
			continue
		}
		c, err := schedule.Split(pr.Line)
		if err != nil {
			return fmt.Errorf("%s cron: %w", from[pr.Type], err)
		}
		pr.Cron, pr.Line = c.Spec, c.Command
		p.Notes = append(p.Notes, fmt.Sprintf("process cron: nixbp-launch runs %q on the schedule %q (robfig/cron; a run still going when "+
			"the next is due skips that one); run exactly one instance of it", c.Command, c.Spec))
	}
	if len(d.Release) == 0 {
		return nil
	}
	def := -1
	for i, pr := range p.Processes {
		if pr.Default {
			def = i
		}
	}
	if def >= 0 {
		p.Processes[def].Release, p.Processes[def].ReleaseByPlatform = d.Release, l.ReleasePhase
	}
	p.Processes = append(p.Processes, Process{Type: ReleaseType, Launcher: l.Path, NixDir: l.NixDir, Release: d.Release, Addons: d.Addons})
	before := "no process is the default one, so only the process type release runs it"
	if def >= 0 {
		before = "nixbp-launch runs it before the " + p.Processes[def].Type + " process starts, and a failure stops the start"
	}
	where := before + " (no CNB platform phase runs it); the process type release runs it alone, e.g. as a Kubernetes Job"
	if l.ReleasePhase {
		where = "it is the Procfile's release process type, which Heroku and Dokku run in their release phase before starting the new release; " +
			"on Cloud Foundry and Kf, which have no release phase, " + before
	}
	p.Notes = append(p.Notes, fmt.Sprintf("release task (%s): %d command(s); %s", d.ReleaseSource, len(d.Release), where))
	return nil
}
