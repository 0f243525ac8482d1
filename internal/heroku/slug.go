package heroku

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/launch"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/profiled"
	"github.com/nix-buildpack/nix-buildpack/internal/relocate"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// The slug's layout, relative to the app root (BUILD_DIR at build time,
// /app on Heroku and Dokku, /home/vcap/app on Cloud Foundry and Kf):
//
//	.nix/store/...            the runtime closure, shown at /nix at run time
//	.nixs/...                 or, relocated (BP_NIX_RELOCATE), the closure with
//	                          its store paths rewritten to /app/.nixs/...;
//	                          .nix/relocated then names that directory
//	.nix/result               link to the build output
//	.nix/bin/nixbp-launch     the launcher; run_result.sh and run_proot.sh;
//	.nix/bin/proot            the buildpack's static proot (amd64, arm64), used
//	                          when the dyno's image has none on PATH
//	.nix/release.yml          what bin/release prints
//	.profile.d/nix.sh         NIXBP_NIX_DIR, PATH and runtime.json env
//	Procfile                  written from runtime.json when the app has none
const (
	NixDir        = ".nix"
	ProfileScript = ".profile.d/nix.sh"
	ReleaseFile   = ".nix/release.yml"
	markerFile    = ".nix/.nixbp-closure"
	// generatedProcfile is a copy of the Procfile compile wrote, to tell
	// it from the app's own when compile runs again in the same directory.
	generatedProcfile = ".nix/Procfile"
)

// NixDirVar names the slug's .nix directory at run time. .profile.d/nix.sh
// sets it from the directory it is sourced in (the app root), unless the
// platform set it already; process lines and the wrappers use it.
const NixDirVar = "NIXBP_NIX_DIR"

// slugLauncher makes process lines find the launcher and the store through
// NixDirVar, expanded by the shell that runs the Procfile line. Heroku and
// Dokku run the Procfile's release process type in their release phase.
var slugLauncher = process.Launcher{Path: "$" + NixDirVar + "/bin/nixbp-launch", NixDir: "$" + NixDirVar, ReleasePhase: true}

// wrappers are the buildpack's bin/ scripts copied into the slug's
// .nix/bin, for Procfiles in the earlier buildpacks' style.
var wrappers = []string{"run_result.sh", "run_proot.sh"}

// slugTarget puts the runtime closure and the process description into the
// slug: the app directory the platform archives after compile.
type slugTarget struct {
	buildDir, buildpackDir string
	log                    log.Logger
	// userProcfile is true when the app brought its own Procfile.
	userProcfile bool
	// key identifies the closure copied by ClosureDir; Emit records it
	// once everything is written.
	key string
	// reloc says whether Emit relocates the closure.
	reloc relocate.Options
}

// checkBuildDir refuses, before anything is written, an app whose files
// would be overwritten: a .nix or .profile.d/nix.sh that compile did not
// write.
func checkBuildDir(buildDir string) error {
	_, unmarked := os.Stat(filepath.Join(buildDir, markerFile))
	for _, d := range [][2]string{{NixDir, "Nix store"}, {relocate.SlugDir, "relocated Nix store"}} {
		if _, err := os.Lstat(filepath.Join(buildDir, d[0])); err == nil && unmarked != nil {
			return fmt.Errorf("%s already exists in the app and was not written by nix-buildpack\n"+
				"the buildpack puts the app's %s there; rename or remove it from the repository", d[0], d[1])
		}
	}
	data, err := os.ReadFile(filepath.Join(buildDir, ProfileScript))
	if err == nil && !strings.HasPrefix(string(data), profiled.Header) {
		return fmt.Errorf("%s already exists in the app and was not written by nix-buildpack\n"+
			"the buildpack writes the app's runtime environment there; rename it (any .profile.d/*.sh is sourced)", ProfileScript)
	}
	return nil
}

// newSlugTarget notes whether the app brought a Procfile: one that is
// not the copy an earlier compile in the same directory wrote.
func newSlugTarget(buildDir, buildpackDir string, reloc relocate.Options, logger log.Logger) *slugTarget {
	restoreAppProcfile(buildDir)
	user, err := os.ReadFile(filepath.Join(buildDir, "Procfile"))
	ours, oerr := os.ReadFile(filepath.Join(buildDir, generatedProcfile))
	if reloc.StoreRuns == nil {
		// Compile runs on a platform like the one that runs the slug (a
		// Heroku build dyno, a herokuish container): a store no strategy
		// can show here will not run there either.
		nixDir := filepath.Join(buildDir, NixDir)
		reloc.StoreRuns = func() error {
			_, err := nixmount.Open(nixDir, nixmount.Auto)
			return err
		}
	}
	return &slugTarget{buildDir: buildDir, buildpackDir: buildpackDir, log: logger, reloc: reloc,
		userProcfile: err == nil && (oerr != nil || string(user) != string(ours))}
}

// ClosureDir is BUILD_DIR/.nix. On Heroku BUILD_DIR is a fresh checkout,
// so the closure is copied on every compile (from CACHE_DIR, where it was
// built or kept); a platform that compiles in place again reuses it.
func (t *slugTarget) ClosureDir(key string) (string, bool, error) {
	dir := filepath.Join(t.buildDir, NixDir)
	t.key = fmt.Sprintf("%s relocate=%s:%s:%t", key, t.reloc.Mode, t.reloc.AppDir, t.reloc.Warn)
	if marker, err := os.ReadFile(filepath.Join(t.buildDir, markerFile)); err == nil {
		if string(marker) == t.key+"\n" {
			return dir, true, nil
		}
		for _, d := range []string{dir, filepath.Join(t.buildDir, relocate.SlugDir)} {
			if err := tree.Remove(d); err != nil {
				return "", false, err
			}
		}
	}
	t.log.Headerf("Copying the runtime closure into the slug (%s)", NixDir)
	bin := filepath.Join(dir, "bin")
	if err := copyFile(launch.Binary(t.buildpackDir), filepath.Join(bin, "nixbp-launch"), 0o755); err != nil {
		return "", false, err
	}
	for _, w := range wrappers {
		if err := copyFile(filepath.Join(t.buildpackDir, "bin", w), filepath.Join(bin, w), 0o755); err != nil {
			return "", false, err
		}
	}
	if p := launch.PRoot(t.buildpackDir); p != "" {
		if err := copyFile(p, filepath.Join(bin, "proot"), 0o755); err != nil {
			return "", false, err
		}
	}
	return dir, false, nil
}

// Launcher runs processes through the slug's launcher.
func (t *slugTarget) Launcher() pipeline.Launcher { return slugLauncher }

// Emit writes .profile.d/nix.sh, the Procfile (when the app has none),
// .nix/release.yml and the result link, and marks the closure complete.
func (t *slugTarget) Emit(res pipeline.Result) error {
	rel, err := t.relocateClosure()
	if err != nil {
		return err
	}
	if rel.Prefix != "" {
		res = res.MapStorePaths(rel.Prefix.StorePath)
	}
	dir := filepath.Join(t.buildDir, NixDir)
	link := filepath.Join(dir, "result")
	_ = os.Remove(link)
	if err := os.Symlink(res.Output, link); err != nil {
		return fmt.Errorf("unable to link %s\n%w", link, err)
	}
	script, err := profile(res, rel.Link)
	if err != nil {
		return fmt.Errorf("unable to write %s\n%w", ProfileScript, err)
	}
	if err := writeFile(filepath.Join(t.buildDir, ProfileScript), script, 0o644); err != nil {
		return err
	}
	lines := processLines(res.Processes)
	noteHealthcheck(t.log, res.Healthcheck)
	if t.userProcfile {
		t.log.Bodyf("Keeping the app's Procfile; its lines can start commands of the result with run_result.sh")
		if err := t.rewriteHop3Lines(lines, res.ReleaseSource); err != nil {
			return err
		}
	} else {
		var b strings.Builder
		var types []string
		for _, l := range lines {
			fmt.Fprintf(&b, "%s: %s\n", l[0], l[1])
			types = append(types, l[0])
		}
		for _, p := range []string{"Procfile", generatedProcfile} {
			if err := writeFile(filepath.Join(t.buildDir, p), b.String(), 0o644); err != nil {
				return err
			}
		}
		t.log.Bodyf("Wrote Procfile with process types %s", strings.Join(types, ", "))
	}
	if err := writeFile(filepath.Join(t.buildDir, ReleaseFile), releaseYAML(lines, t.userProcfile), 0o644); err != nil {
		return err
	}
	return writeFile(filepath.Join(t.buildDir, markerFile), t.key+"\n", 0o644)
}

// processLines renders each process as [type, command line]: the launcher
// and store words expand NixDirVar, the rest is quoted for the shell, and
// the line is a YAML plain scalar too (process.ProcfileCommand), because
// Cloud Foundry's builder parses the Procfile as YAML.
func processLines(procs []process.Process) [][2]string {
	var lines [][2]string
	for _, p := range procs {
		lines = append(lines, [2]string{p.Type, process.ProcfileCommand(p)})
	}
	return lines
}

// releaseYAML is bin/release's output. With the app's own Procfile there
// are no default process types: the platform uses the Procfile alone.
func releaseYAML(lines [][2]string, userProcfile bool) string {
	if userProcfile || len(lines) == 0 {
		return "--- {}\n"
	}
	var b strings.Builder
	b.WriteString("---\ndefault_process_types:\n")
	for _, l := range lines {
		q, _ := json.Marshal(l[1]) // a JSON string is a YAML double-quoted scalar
		fmt.Fprintf(&b, "  %s: %s\n", l[0], q)
	}
	return b.String()
}

// profile is .profile.d/nix.sh: see internal/profiled. With link (a
// closure relocated for a /tmp link), its PATH entries and variables are
// set only once the launcher made or accepted the link.
func profile(res pipeline.Result, link bool) (string, error) {
	s := profiled.Slug{NixDirVar: NixDirVar, NixDir: NixDir, Path: res.Runtime.Path, Env: res.Env}
	if link {
		s.Guard, s.GuardFailed = linkGuard, linkRefused
	}
	return profiled.Script(s)
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("unable to read %s\n%w", src, err)
	}
	return writeFile(dst, string(data), mode)
}

func writeFile(path, content string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("unable to create %s\n%w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		return fmt.Errorf("unable to write %s\n%w", path, err)
	}
	return nil
}
