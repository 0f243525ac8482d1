// Package launch is the process launcher that ships in the launch layer (and
// the slug): it makes the app's store visible at /nix by the cheapest
// strategy the platform allows, then runs a worker's command line with POSIX
// shell semantics (no /bin/sh needed), or serves a static directory.
//
//	nixbp-launch --nix-dir DIR -- 'busybox httpd -f -p "$BIND_ADDRESS:$PORT"'
//	nixbp-launch --nix-dir DIR --static /nix/store/...-site/public
//
// Around the worker it does what Hop3 does around its processes: it maps
// the services of the app's addons into the variables Hop3 gives
// (--addon postgres, see internal/addon), runs the release task first
// (--release CMD, repeatable; alone when there is no worker), and runs a
// cron worker's command on its schedule (--cron '*/5 * * * *' -- CMD).
package launch

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/schedule"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// inViewEnv marks the launcher re-run inside the view: its value is the
// strategy, or prootWorker for the launcher that runs an interpreted line
// under proot.
const inViewEnv = "NIXBP_IN_VIEW"

// prootWorker marks the launcher that runs the worker under proot.
const prootWorker = "proot-worker"

// Defaults for the variables every worker may use.
var Defaults = map[string]string{"PORT": "8080", "BIND_ADDRESS": "0.0.0.0"}

// Invocation is a parsed command line of the launcher.
type Invocation struct {
	NixDir  string
	Static  string
	Command string
	Quiet   bool
	// Cron is the schedule Command runs on ("": it runs once, now).
	Cron string
	// Release is the release task, run before the worker (or alone).
	Release []string
	// ReleaseByPlatform: the platform's release phase runs Release (the
	// Procfile's release process type); run it only where there is none.
	ReleaseByPlatform bool
	// Addons are TYPE or TYPE:NAME of the app's addons.
	Addons []string
}

// words is a repeatable string flag.
type words []string

func (w *words) String() string     { return strings.Join(*w, " ") }
func (w *words) Set(s string) error { *w = append(*w, s); return nil }

// Parse reads the launcher's arguments.
func Parse(args []string, stderr io.Writer) (Invocation, error) {
	var inv Invocation
	fs := flag.NewFlagSet("nixbp-launch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&inv.NixDir, "nix-dir", "", "directory holding store/ to show at /nix")
	fs.StringVar(&inv.Static, "static", "", "serve this directory over HTTP on $BIND_ADDRESS:$PORT")
	fs.BoolVar(&inv.Quiet, "quiet", false, "do not log the /nix strategy")
	fs.StringVar(&inv.Cron, "cron", "", "run the command on this schedule (five cron fields, or @hourly, @every 30s, ...)")
	fs.Var((*words)(&inv.Release), "release", "a command of the release task, run before the worker (repeatable)")
	fs.BoolVar(&inv.ReleaseByPlatform, "release-by-platform", false, "the platform's release phase runs the release task; run it only where there is none")
	fs.Var((*words)(&inv.Addons), "addon", "an addon (TYPE or TYPE:NAME) whose service becomes the variables Hop3 gives (repeatable)")
	if err := fs.Parse(args); err != nil {
		return inv, err
	}
	inv.Command = strings.Join(fs.Args(), " ")
	usage := "usage: nixbp-launch [--nix-dir DIR] [--addon TYPE[:NAME]]... [--release CMD]... (--static DIR | [--cron SCHEDULE] -- COMMAND LINE)"
	switch {
	case inv.Static != "" && inv.Command != "":
		return inv, errors.New(usage)
	case inv.Static == "" && inv.Command == "" && len(inv.Release) == 0:
		return inv, errors.New(usage)
	case inv.Cron != "" && inv.Command == "":
		return inv, errors.New("--cron needs a command line after --\n" + usage)
	}
	if inv.Cron != "" {
		if _, err := schedule.Parse(inv.Cron); err != nil {
			return inv, fmt.Errorf("--cron: %w", err)
		}
	}
	return inv, nil
}

// Main runs the launcher and returns the process's exit status.
//
// It chooses how /nix is shown (logged once, on stderr), then runs the
// worker: by exec when /nix is native and the launcher is not PID 1, so the
// worker is the process the platform started; otherwise as the launcher's
// child, with signals passed on, orphans reaped when it is PID 1, and the
// worker's exit status (128+n for a signal) as its own.
func Main(args []string) int {
	inv, err := Parse(args, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
		return 2
	}
	ls, err := settings.ParseLaunch(os.LookupEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
		return 2
	}
	inv.Quiet = inv.Quiet || ls.Quiet
	for k, v := range Defaults {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	var note string
	inv.Release, note = releaseToRun(inv, ls)
	if via := os.Getenv(inViewEnv); via != "" {
		os.Unsetenv(inViewEnv)
		return inView(inv, via, args)
	}
	if err := mapAddons(inv.Addons, inv.Quiet); err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
		return 1
	}
	if note != "" {
		fmt.Fprintf(os.Stderr, "nixbp-launch: %s\n", note)
	}
	want := ls.Strategy
	view := nixmount.View{Strategy: nixmount.Native}
	if inv.NixDir != "" {
		if view, err = open(inv.NixDir, want); err != nil {
			fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
			return 126
		}
		if !inv.Quiet {
			fmt.Fprintf(os.Stderr, "nixbp-launch: %s\n", describe(view))
		}
	}
	if view.Strategy == Relocate {
		// Nothing to show at /nix: run as native does.
		view = nixmount.View{Strategy: nixmount.Native, NixDir: view.NixDir}
	}
	if view.Strategy == nixmount.Native && os.Getpid() != 1 {
		return runWorker(inv, false)
	}
	cmd, err := relaunch(view, args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
		return 126
	}
	return supervise(cmd, supervision{throughProot: view.Strategy == nixmount.PRoot, mayDie: true})
}

// inView runs the worker in the launcher relaunched where /nix is shown
// (via: the strategy that shows it, or prootWorker).
func inView(inv Invocation, via string, args []string) int {
	if via != string(nixmount.PRoot) {
		if via == prootWorker {
			inv.Release = nil // the launcher above, under proot, ran it
		}
		return runWorker(inv, via == prootWorker)
	}
	// Inside proot: run the release task, then supervise the worker from
	// here, and report its status on a pipe the worker does not inherit.
	syscall.CloseOnExec(statusFD)
	if len(inv.Release) > 0 {
		if status := runRelease(inv.Release, true); status != 0 || inv.Static == "" && inv.Command == "" {
			return report(status)
		}
		inv.Release = nil
	}
	cmd, code := workerCommand(inv, args)
	if cmd == nil {
		return report(code)
	}
	return report(supervise(cmd, supervision{}))
}

// open chooses the /nix strategy, want or with Auto the cheapest: relocate
// when the build relocated the closure (its programs name the relocated
// directory, so showing its bytes at /nix would not run them: a CNB image
// relocated for a stock run image keeps its view's nix/store, which a
// native run image also shows at /nix), else native when /nix already
// holds every store path of nixDir (the same directory through a link or
// mount, or an image with the closure at /nix), else what nixmount.Open
// finds.
func open(nixDir string, want nixmount.Strategy) (nixmount.View, error) {
	if v, ok, err := relocatedView(nixDir, want); ok || err != nil {
		return v, err
	}
	fi, err := os.Stat(filepath.Join(nixDir, "store"))
	hasStore := err == nil && fi.IsDir()
	if hasStore && (want == nixmount.Auto || want == nixmount.Native) && closureAtNix(nixDir) {
		return nixmount.View{Strategy: nixmount.Native, NixDir: nixDir}, nil
	}
	if !hasStore {
		return nixmount.View{}, fmt.Errorf("--nix-dir %s holds no store/ directory: the image lacks the layer that holds the app's closure", nixDir)
	}
	return nixmount.Open(nixDir, want)
}

// closureAtNix reports whether every entry of nixDir/store is in /nix/store.
// Store path names are content addressed, so the same name is the same path.
func closureAtNix(nixDir string) bool {
	entries, err := os.ReadDir(filepath.Join(nixDir, "store"))
	if err != nil || len(entries) == 0 {
		return false
	}
	for _, e := range entries {
		if _, err := os.Lstat(filepath.Join("/nix/store", e.Name())); err != nil {
			return false
		}
	}
	return true
}

// describe is the one log line saying how /nix is shown, and why cheaper
// strategies were passed over.
func describe(v nixmount.View) string {
	var b strings.Builder
	if v.Strategy == Relocate {
		fmt.Fprintf(&b, "no /nix needed: the closure is relocated to %s (relocate)", v.NixDir)
	} else {
		fmt.Fprintf(&b, "/nix through %s (%s)", v.Through(), v.NixDir)
	}
	for _, a := range v.Skipped {
		fmt.Fprintf(&b, "; %s skipped: %s", a.Strategy, strings.ReplaceAll(a.Err.Error(), "\n", ": "))
	}
	return b.String()
}
