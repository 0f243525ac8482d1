package heroku

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/launch"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/relocate"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// herokuAppDir is where Heroku and Dokku (herokuish) run the slug; both
// compile with HOME set to it.
const herokuAppDir = "/app"

// relocation turns the relocation settings into options. The app's
// directory at run time is BP_NIX_RELOCATE_APP_DIR, else /app when compile
// runs with HOME or BUILD_DIR at /app (Heroku, Dokku), else unknown: auto
// then keeps the store as is (Cloud Foundry runs apps at /home/vcap/app,
// too long).
func relocation(r settings.Relocate, home, buildDir string) (relocate.Options, error) {
	o := relocate.Options{Mode: relocate.Mode(r.Mode), AppDir: r.AppDir, Warn: r.Warn}
	if o.AppDir == "" && (home == herokuAppDir || buildDir == herokuAppDir) {
		o.AppDir = herokuAppDir
	}
	if o.AppDir != "" && !strings.HasPrefix(o.AppDir, "/") {
		return o, fmt.Errorf("%s=%q: expected an absolute directory (where the slug is when the app runs)", settings.RelocateAppDirName, o.AppDir)
	}
	return o, nil
}

// relocateClosure replaces the slug's .nix/store by a copy relocated to
// the app's directory at run time (.nixs), when the settings ask for it
// and the check passes, and returns its prefix ("" when the store stays).
func (t *slugTarget) relocateClosure() (relocate.Prefix, error) {
	nixDir := filepath.Join(t.buildDir, NixDir)
	if data, err := os.ReadFile(filepath.Join(nixDir, launch.RelocatedFile)); err == nil {
		// Reused from an earlier compile.
		dir, rest, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
		t.linked = strings.HasPrefix(rest, "link ")
		return relocate.ParsePrefix(dir)
	}
	o := t.reloc
	if o.Mode == relocate.Never {
		return "", nil
	}
	p, err := o.Prefix()
	link := false
	if err != nil {
		if o.Mode != relocate.Always && o.AppDir == "" {
			return "", t.notRelocated(err.Error() + "; set " + settings.RelocateAppDirName + " to the app's directory at run time (/app on Heroku and Dokku), " +
				"or " + settings.RelocateName + "=always to relocate to a /tmp link the launcher makes")
		}
		// Unknown or too long: a /tmp link named from the closure, made
		// by the launcher at start (Cloud Foundry's /home/vcap/app).
		p, link = relocate.LinkPrefix(t.key), true
	}
	store, dst := filepath.Join(nixDir, "store"), filepath.Join(t.buildDir, relocate.SlugDir)
	entries, err := os.ReadDir(store)
	if err != nil {
		return "", fmt.Errorf("unable to read %s\n%w", store, err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	t.log.Headerf("Relocating the runtime closure to %s (%s in the slug)", p.Dir(), relocate.SlugDir)
	start := time.Now()
	rep, err := relocate.Copy(store, dst, names, p)
	if err != nil {
		return "", err
	}
	t.log.Bodyf("Copied %d store paths (%d files, %.1f MiB) in %s: %d store path references rewritten in %d files, %d checked .pyc fixed",
		rep.Paths, rep.Files, float64(rep.Bytes)/(1<<20), time.Since(start).Round(time.Millisecond), rep.Rewritten, rep.RewrittenFiles, len(rep.PycFixed))
	start = time.Now()
	chk, err := relocate.Check(store, dst, p)
	if err != nil {
		return "", err
	}
	t.log.Bodyf("Checked %d files (%.1f MiB) in %s: %d problems", chk.Files, float64(chk.Bytes)/(1<<20), time.Since(start).Round(time.Millisecond), len(chk.Broken))
	for _, f := range chk.NotInspected {
		t.log.Bodyf("not inspected: %s", f)
	}
	if len(chk.Broken) > 0 {
		list := findingList(chk.Broken)
		if o.Mode == relocate.Always && !o.Warn {
			return "", fmt.Errorf("%s=always, but relocating the closure to %s breaks these files:\n%s\n"+
				"set %s=warn to relocate anyway, or %s=never to keep the store (then the platform must offer user namespaces or ptrace)",
				settings.RelocateName, p.Dir(), list, settings.RelocateCheckName, settings.RelocateName)
		}
		if o.Mode == relocate.Auto {
			if err := tree.Remove(dst); err != nil {
				return "", err
			}
			return "", t.notRelocated(fmt.Sprintf("relocating to %s would break these files:\n%s", p.Dir(), list))
		}
		t.log.Bodyf("warning (%s=warn): relocated although these files break:\n%s", settings.RelocateCheckName, list)
	}
	if err := tree.Remove(store); err != nil {
		return "", err
	}
	if err := writeFile(filepath.Join(dst, launch.ClosureIDFile), t.key+"\n", 0o444); err != nil {
		return "", err
	}
	marker := p.Dir() + "\n"
	t.linked = link
	if link {
		marker += "link ../" + relocate.SlugDir + "\n"
		t.log.Bodyf("The launcher links %s to the slug's %s at start (the app's directory at run time is unknown or longer than %d bytes)",
			p.Dir(), relocate.SlugDir, len(relocate.StoreDir)-len(relocate.SlugDir)-1)
	}
	return p, writeFile(filepath.Join(nixDir, launch.RelocatedFile), marker, 0o644)
}

// linkLine, in .profile.d/nix.sh of a slug relocated for a /tmp link,
// makes the link when a shell starts (heroku run bash, before any process
// started the launcher), so that PATH's relocated entries resolve.
const linkLine = `"$` + NixDirVar + `/bin/nixbp-launch" --quiet --nix-dir "$` + NixDirVar + `" -- true || true` + "\n"

// notRelocated is the outcome when the closure cannot be relocated: an
// error under always, a warning under auto.
func (t *slugTarget) notRelocated(why string) error {
	if t.reloc.Mode == relocate.Always {
		return fmt.Errorf("%s=always, but the closure cannot be relocated: %s", settings.RelocateName, why)
	}
	t.log.Bodyf("warning: not relocating the closure (it stays in %s/store, shown at /nix at run time, which needs user namespaces or ptrace): %s",
		NixDir, why)
	return nil
}

func findingList(fs []relocate.Finding) string {
	var b strings.Builder
	for i, f := range fs {
		if i == 20 {
			fmt.Fprintf(&b, "  ... and %d more", len(fs)-i)
			break
		}
		fmt.Fprintf(&b, "  %s\n", f)
	}
	return strings.TrimRight(b.String(), "\n")
}

// relocatedResult is res with every store path named for run time (the
// output, runtime.json's env and path, the process lines) moved to p.
func relocatedResult(res pipeline.Result, p relocate.Prefix) pipeline.Result {
	res.Output = p.StorePath(res.Output)
	rt := res.Runtime
	rt.Env = maps.Clone(rt.Env)
	for k, v := range rt.Env {
		rt.Env[k] = p.StorePath(v)
	}
	rt.Path = append([]string{}, rt.Path...)
	for i, v := range rt.Path {
		rt.Path[i] = p.StorePath(v)
	}
	res.Runtime = rt
	procs := make([]process.Process, len(res.Processes))
	for i, pr := range res.Processes {
		pr.Static, pr.Line = p.StorePath(pr.Static), p.StorePath(pr.Line)
		procs[i] = pr
	}
	res.Processes = procs
	return res
}
