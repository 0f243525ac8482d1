package relocate

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/relocate/check"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// Outcome is what Slug did with a closure.
type Outcome struct {
	// Prefix is where the relocated closure lives at run time; "" when the
	// closure was not relocated.
	Prefix Prefix
	// Link is true when Prefix is a /tmp link the launcher makes at start
	// (the app's directory at run time is unknown or too long).
	Link bool
	// Skipped says why Auto kept the store as is, for the front-end's
	// warning; "" when relocated or under Never.
	Skipped string
}

// Slug is the relocation step of a slug: it copies the closure in store
// (the on-disk directory holding its store paths) to dst, rewritten for
// the run-time directory o asks for, checks the copy and decides: under
// Auto a closure that cannot be relocated, or that the check finds broken,
// stays in store (dst is removed); under Always that is an error unless
// o.Warn. Once relocated, store is removed. id names the closure, for the
// /tmp link's name.
func Slug(store, dst string, o Options, id string, logger log.Logger) (Outcome, error) {
	if o.Mode == Never {
		return Outcome{}, nil
	}
	out := Outcome{}
	// storeFails is why the unrelocated store could not run here either,
	// asked once and only when Auto would keep it.
	storeFails := func() error {
		if o.StoreRuns == nil {
			return nil
		}
		return o.StoreRuns()
	}
	p, err := o.Prefix()
	if err != nil {
		if o.Mode != Always && o.AppDir == "" {
			skipped := err.Error() + "; set " + settings.RelocateAppDirName + " to the app's directory at run time (/app on Heroku and Dokku), " +
				"or " + settings.RelocateName + "=always to relocate to a /tmp link the launcher makes"
			why := storeFails()
			if why == nil {
				return Outcome{Skipped: skipped}, nil
			}
			logger.Bodyf("warning: %s; relocating to a /tmp link anyway, because the store could not be shown at /nix on this platform either:\n  %s",
				skipped, indent(why.Error()))
		}
		// Unknown or too long: a /tmp link named from the closure, made
		// by the launcher at start (Cloud Foundry's /home/vcap/app).
		p, out.Link = LinkPrefix(id), true
	}
	entries, err := os.ReadDir(store)
	if err != nil {
		return Outcome{}, fmt.Errorf("unable to read %s\n%w", store, err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	logger.Headerf("Relocating the runtime closure to %s (%s in the slug)", p.Dir(), SlugDir)
	chk, err := CopyAndCheck(store, dst, names, p, logger)
	if err != nil {
		return Outcome{}, err
	}
	skipped, err := Judge(chk, o, p, logger)
	if err != nil {
		return Outcome{}, err
	}
	if skipped != "" {
		return Outcome{Skipped: skipped}, tree.Remove(dst)
	}
	if err := tree.Remove(store); err != nil {
		return Outcome{}, err
	}
	if out.Link {
		logger.Bodyf("The launcher links %s to the slug's %s at start (the app's directory at run time is unknown or longer than %d bytes)",
			p.Dir(), SlugDir, len(StoreDir)-len(SlugDir)-1)
	}
	out.Prefix = p
	return out, nil
}

// CopyAndCheck copies the named store paths from store to dst for p
// (Copy), then checks the copy against them (check.Closure), logging what each
// did and how long it took.
func CopyAndCheck(store, dst string, names []string, p Prefix, logger log.Logger) (*check.Report, error) {
	start := time.Now()
	rep, err := Copy(store, dst, names, p)
	if err != nil {
		return nil, err
	}
	logger.Bodyf("Copied %d store paths (%d files, %.1f MiB) in %s: %d store path references rewritten in %d files, %d checked .pyc fixed",
		rep.Paths, rep.Files, float64(rep.Bytes)/(1<<20), time.Since(start).Round(time.Millisecond), rep.Rewritten, rep.RewrittenFiles, len(rep.PycFixed))
	start = time.Now()
	chk, err := check.Closure(store, dst, string(p))
	if err != nil {
		return nil, err
	}
	logger.Bodyf("Checked %d files (%.1f MiB) in %s: %d problems, %d places not inspected",
		chk.Files, float64(chk.Bytes)/(1<<20), time.Since(start).Round(time.Millisecond), len(chk.Broken), len(chk.NotInspected))
	return chk, nil
}

// Judge applies o's rules to what check.Closure found in a closure relocated to
// p: no findings is a pass (""); under Auto findings are the reason to
// keep the store as is (skipped), unless o.StoreRuns says the store could
// not run either (then a warning, and a pass); under Always they fail the
// build unless o.Warn, which logs them as a warning and passes. Files
// the check could not inspect are logged in every case.
func Judge(chk *check.Report, o Options, p Prefix, logger log.Logger) (skipped string, err error) {
	for _, f := range chk.NotInspected {
		logger.Bodyf("not inspected: %s", f)
	}
	if len(chk.Broken) == 0 {
		return "", nil
	}
	list := findingList(chk.Broken)
	switch {
	case o.Mode == Always && !o.Warn:
		return "", fmt.Errorf("%s=always, but relocating the closure to %s breaks these files:\n%s\n"+
			"set %s=warn to relocate anyway, or %s=never to keep the store (then the platform must offer user namespaces or ptrace)",
			settings.RelocateName, p.Dir(), list, settings.RelocateCheckName, settings.RelocateName)
	case o.Mode == Auto:
		var why error
		if o.StoreRuns != nil {
			why = o.StoreRuns()
		}
		if why == nil {
			return fmt.Sprintf("relocating to %s would break these files:\n%s", p.Dir(), list), nil
		}
		logger.Bodyf("warning: relocated although these files break, because the store could not be shown at /nix on this platform either (%s=never to keep it):\n%s\n  why the store would not run:\n  %s",
			settings.RelocateName, list, indent(why.Error()))
	default:
		logger.Bodyf("warning (%s=warn): relocated although these files break:\n%s", settings.RelocateCheckName, list)
	}
	return "", nil
}

// indent puts two spaces after every newline of a multi-line message.
func indent(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ") }

// findingList lists the first 20 findings, one a line, indented.
func findingList(fs []check.Finding) string {
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
