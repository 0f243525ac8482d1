package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/hop3toml"
)

// TOMLPlaces are where hop3.toml is looked for, first found wins: Hop3
// reads it from the checkout's hop3/ directory, then its root
// (hop3-server project/config.py AppConfig.get_file, relative to src/,
// which is the checkout).
var TOMLPlaces = []string{filepath.Join("hop3", Hop3TOML), Hop3TOML}

// ProcfilePlaces are where a Procfile is looked for, as for hop3.toml.
var ProcfilePlaces = []string{filepath.Join("hop3", "Procfile"), "Procfile"}

// FindTOML is the app's hop3.toml, relative to dir ("" when there is none).
func FindTOML(dir string) string { return firstFile(dir, TOMLPlaces) }

// Run is what an app says about running it besides runtime.json: hop3.toml's
// [run] and [env], and a Procfile.
type Run struct {
	// TOML is hop3.toml's path relative to the app ("" when there is none).
	TOML string
	// Start is [run] start: the web process's command line.
	Start string
	// Workers is [run.workers]: process type to command line.
	Workers map[string]string
	// Env is [env]: defaults that the platform's config vars override.
	Env map[string]string
	// Procfile is the Procfile's path relative to the app ("" when none).
	Procfile string
	// ProcfileWorkers are its process types and command lines.
	ProcfileWorkers map[string]string
	// Notes are lines for the build log: unknown keys (with file and line)
	// and the settings the buildpack does not apply.
	Notes []string
	// Release is the release task (see runtime.go); empty when none.
	Release ReleaseTask
	// Addons are hop3.toml's [[addons]] (or [[provider]]).
	Addons []Addon
	// Healthcheck is hop3.toml's [healthcheck] (or [run] healthcheck), nil
	// when there is none.
	Healthcheck *Healthcheck
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ReadRun reads the app's hop3.toml (where Hop3 looks for it) and Procfile.
// Unknown keys are warnings naming file and line, since Hop3's own schema
// refuses them; a malformed value of a setting the buildpack applies is an
// error.
func ReadRun(dir string) (Run, error) {
	var r Run
	var err error
	var procfileLines map[string]int
	if r.Procfile = firstFile(dir, ProcfilePlaces); r.Procfile != "" {
		if r.ProcfileWorkers, procfileLines, err = readProcfile(dir, r.Procfile); err != nil {
			return r, err
		}
	}
	if r.TOML = FindTOML(dir); r.TOML == "" {
		return r, r.readRuntime(nil, nil, procfileLines)
	}
	data, err := os.ReadFile(filepath.Join(dir, r.TOML))
	if err != nil {
		return r, fmt.Errorf("unable to read %s\n%w", r.TOML, err)
	}
	doc, _, err := hop3toml.Decode(data, r.TOML)
	if err != nil {
		return r, err
	}
	r.Notes = unknownKeys(doc, data, r.TOML)
	if lookup(doc, "build.nix.pure") {
		r.Notes = append(r.Notes, fmt.Sprintf("%s:%d: warning: [build.nix] pure is not applied: Hop3 does not implement it, "+
			"and pure evaluation would forbid <nixpkgs>", r.TOML, lineOf(data, "build.nix", "pure")))
	}
	r.Notes = append(r.Notes, extensionNotes(doc, data, r.TOML)...)
	if na := presentNotApplied(doc); len(na) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%s: not applied by the buildpack (Hop3's server acts on them): %s",
			r.TOML, strings.Join(na, ", ")))
	}
	if err := r.readRunTable(doc, data); err != nil {
		return r, err
	}
	if err := r.readEnv(doc, data); err != nil {
		return r, err
	}
	return r, r.readRuntime(doc, data, procfileLines)
}

// readRunTable reads [run] start and [run.workers]. A list for start is
// joined with " && ", as Hop3 does.
func (r *Run) readRunTable(doc map[string]any, data []byte) error {
	run, ok := doc["run"].(map[string]any)
	if !ok {
		return nil
	}
	if v, ok := run["start"]; ok {
		s, err := commandValue(v)
		if err != nil {
			return fmt.Errorf("%s:%d: [run] start %w\nwrite e.g. start = \"gunicorn app:app -b $BIND_ADDRESS:$PORT\"", r.TOML, lineOf(data, "run", "start"), err)
		}
		r.Start = s
	}
	if v, ok := run["workers"]; ok {
		table, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s:%d: [run] workers must be a table, got %s\nwrite it as a [run.workers] section", r.TOML, lineOf(data, "run", "workers"), typeName(v))
		}
		r.Workers = map[string]string{}
		for name, cmd := range table {
			s, ok := cmd.(string)
			if !ok || strings.TrimSpace(s) == "" {
				return fmt.Errorf("%s:%d: [run.workers] %s must be a command line, got %s", r.TOML, lineOf(data, "run.workers", name), name, typeName(cmd))
			}
			r.Workers[name] = s
		}
	}
	return nil
}

func commandValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		if strings.TrimSpace(v) != "" {
			return v, nil
		}
	case []any:
		var parts []string
		for _, p := range v {
			s, ok := p.(string)
			if !ok {
				return "", fmt.Errorf("must be a command line or a list of them, got a list holding %s", typeName(p))
			}
			parts = append(parts, s)
		}
		if len(parts) > 0 {
			return strings.Join(parts, " && "), nil
		}
	}
	return "", fmt.Errorf("must be a non-empty command line or a list of them, got %s", typeName(v))
}

// readEnv reads [env]: scalars become strings as Hop3 makes them (Python's
// str(): true is "True"); _policy and [env.computed] are not applied.
func (r *Run) readEnv(doc map[string]any, data []byte) error {
	raw, ok := doc["env"]
	if !ok {
		return nil
	}
	env, ok := raw.(map[string]any)
	if !ok {
		return fmt.Errorf("%s:%d: env must be a table, got %s\nwrite it as an [env] section", r.TOML, lineOf(data, "", "env"), typeName(raw))
	}
	r.Env = map[string]string{}
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if _, table := env[k].(map[string]any); table || strings.HasPrefix(k, "_") {
			continue // _policy, [env.computed]: Hop3 leaves them out of the environment too
		}
		line := lineOf(data, "env", k)
		if !envNameRE.MatchString(k) {
			return fmt.Errorf("%s:%d: [env] %q is not an environment variable name\n"+
				"a name holds letters, digits and '_' and does not start with a digit ([A-Za-z_][A-Za-z0-9_]*); rename it", r.TOML, line, k)
		}
		switch v := env[k].(type) {
		case string:
			r.Env[k] = v
		case int64:
			r.Env[k] = strconv.FormatInt(v, 10)
		case float64:
			r.Env[k] = strconv.FormatFloat(v, 'g', -1, 64)
		case bool:
			r.Env[k] = map[bool]string{true: "True", false: "False"}[v]
		default:
			return fmt.Errorf("%s:%d: [env] %s must be a string, number or boolean, got %s\nquote the value, e.g. %s = \"...\"",
				r.TOML, line, k, typeName(v), k)
		}
	}
	return nil
}

func firstFile(dir string, places []string) string {
	for _, p := range places {
		if exists(filepath.Join(dir, p)) {
			return p
		}
	}
	return ""
}
