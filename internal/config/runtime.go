package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/schedule"
)

// ReleaseTask is what runs once before a new release serves: hop3.toml's
// [run] before-run, else the prerun hook (hop3.toml [run.workers] over the
// Procfile), as Hop3's AppConfig.pre_run ranks them, else the Procfile's
// release process type (Heroku's release phase).
type ReleaseTask struct {
	// Commands run in order; the first that fails stops the release.
	Commands []string
	// Source names where it was declared ("hop3.toml:4 [run] before-run",
	// "Procfile:2 prerun"); "" when there is no release task.
	Source string
}

// Addon is one [[addons]] entry: a backing service the platform provides.
type Addon struct {
	// Type is the service as written (postgres, postgresql, redis, ...).
	Type string
	// Name is the instance name, "" when not given (Hop3 names it
	// <app>-<type>).
	Name string
	// Source names the entry ("hop3.toml:12 [[addons]]").
	Source string
}

// Healthcheck is hop3.toml's [healthcheck] (or [run] healthcheck and
// healthcheck-timeout): an HTTP path a platform may probe.
type Healthcheck struct {
	// Path is the HTTP path to probe; Contains, when set, must be in the
	// response body.
	Path, Contains string
	// Interval, Timeout (seconds) and Retries; 0 when not set.
	Interval, Timeout, Retries int
	// Source names the table it was read from.
	Source string
}

// hooks are the Procfile process types Hop3 runs as lifecycle hooks rather
// than as processes (its RuntimeManifestBuilder leaves them out of the
// workers), and Heroku's release phase.
var hooks = []string{"prebuild", "postbuild", "prerun", "release"}

// readRuntime reads what Hop3 does around the processes: the release task,
// cron lines, [[addons]], the [env] values Hop3's server fills, and
// [healthcheck]. doc is nil when there is no hop3.toml.
func (r *Run) readRuntime(doc map[string]any, data []byte, procfileLines map[string]int) error {
	beforeRun, err := r.readBeforeRun(doc, data)
	if err != nil {
		return err
	}
	r.takeHooks(beforeRun, data, procfileLines)
	if err := r.checkCron(data, procfileLines); err != nil {
		return err
	}
	if doc == nil {
		return nil
	}
	if r.Addons, err = readAddons(doc, data, r.TOML); err != nil {
		return err
	}
	r.Notes = append(r.Notes, envFilledByHop3(doc, data, r.TOML)...)
	return r.readHealthcheck(doc, data)
}

// readBeforeRun reads [run] before-run: a command line or a list of them.
func (r *Run) readBeforeRun(doc map[string]any, data []byte) (ReleaseTask, error) {
	run, _ := doc["run"].(map[string]any)
	v, ok := run["before-run"]
	if !ok {
		return ReleaseTask{}, nil
	}
	line := lineOf(data, "run", "before-run")
	var cmds []string
	switch v := v.(type) {
	case string:
		cmds = []string{v}
	case []any:
		for _, c := range v {
			s, ok := c.(string)
			if !ok {
				return ReleaseTask{}, fmt.Errorf("%s:%d: [run] before-run must be a command line or a list of them, got a list holding %s",
					r.TOML, line, typeName(c))
			}
			cmds = append(cmds, s)
		}
	default:
		return ReleaseTask{}, fmt.Errorf("%s:%d: [run] before-run must be a command line or a list of them, got %s\n"+
			"write e.g. before-run = [\"python manage.py migrate\"]", r.TOML, line, typeName(v))
	}
	for _, c := range cmds {
		if strings.TrimSpace(c) == "" {
			return ReleaseTask{}, fmt.Errorf("%s:%d: [run] before-run holds an empty command line; remove it", r.TOML, line)
		}
	}
	if len(cmds) == 0 {
		return ReleaseTask{}, nil // Hop3 treats an empty list as no before-run
	}
	return ReleaseTask{Commands: cmds, Source: fmt.Sprintf("%s:%d [run] before-run", r.TOML, line)}, nil
}

// takeHooks removes the hook types from the Procfile's and [run.workers]'
// processes and chooses the release task: before-run, then prerun
// ([run.workers] over the Procfile), then the Procfile's release.
func (r *Run) takeHooks(beforeRun ReleaseTask, data []byte, procfileLines map[string]int) {
	var candidates []ReleaseTask
	if beforeRun.Source != "" {
		candidates = append(candidates, beforeRun)
	}
	for _, hook := range hooks {
		var found []ReleaseTask
		if cmd, ok := r.Workers[hook]; ok {
			delete(r.Workers, hook)
			found = append(found, ReleaseTask{Commands: []string{cmd},
				Source: fmt.Sprintf("%s:%d [run.workers] %s", r.TOML, lineOf(data, "run.workers", hook), hook)})
		}
		if cmd, ok := r.ProcfileWorkers[hook]; ok {
			delete(r.ProcfileWorkers, hook)
			found = append(found, ReleaseTask{Commands: []string{cmd}, Source: fmt.Sprintf("%s:%d %s", r.Procfile, procfileLines[hook], hook)})
		}
		for _, f := range found {
			switch hook {
			case "prebuild", "postbuild":
				r.Notes = append(r.Notes, fmt.Sprintf("%s: a build hook Hop3's server runs around its own build; not run by the buildpack "+
					"(build steps belong in the Nix expression)", f.Source))
			default:
				candidates = append(candidates, f)
			}
		}
	}
	if len(candidates) == 0 {
		return
	}
	r.Release = candidates[0]
	for _, c := range candidates[1:] {
		r.Notes = append(r.Notes, fmt.Sprintf("release task: %s replaces %s", r.Release.Source, c.Source))
	}
}

// checkCron checks the schedule of the cron process type of the Procfile
// and [run.workers] (runtime.json's is checked when processes are
// described).
func (r *Run) checkCron(data []byte, procfileLines map[string]int) error {
	if line, ok := r.ProcfileWorkers[schedule.ProcessType]; ok {
		if _, err := schedule.Split(line); err != nil {
			return fmt.Errorf("%s:%d: cron: %w", r.Procfile, procfileLines[schedule.ProcessType], err)
		}
	}
	if line, ok := r.Workers[schedule.ProcessType]; ok {
		if _, err := schedule.Split(line); err != nil {
			return fmt.Errorf("%s:%d: [run.workers] cron: %w", r.TOML, lineOf(data, "run.workers", schedule.ProcessType), err)
		}
	}
	return nil
}

// readAddons reads [[addons]], or the deprecated [[provider]] when there
// are none (as Hop3 does). An entry with only name is the legacy form where
// name is the type; one with neither is refused, as Hop3 refuses it.
func readAddons(doc map[string]any, data []byte, file string) ([]Addon, error) {
	for _, section := range []string{"addons", "provider"} {
		raw, ok := doc[section]
		if !ok {
			continue
		}
		entries, ok := tables(raw)
		if !ok {
			return nil, fmt.Errorf("%s:%d: %s must be an array of tables, got %s\nwrite each as a [[%s]] section with type = \"postgresql\"",
				file, lineOf(data, "", section), section, typeName(raw), section)
		}
		if len(entries) == 0 {
			continue
		}
		var out []Addon
		for i, e := range entries {
			a, err := readAddon(e, file, section, i, entryLine(data, section, i))
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		return out, nil
	}
	return nil, nil
}

func readAddon(e map[string]any, file, section string, i, line int) (Addon, error) {
	typ, okType := e["type"].(string)
	name, okName := e["name"].(string)
	if _, set := e["type"]; set && (!okType || strings.TrimSpace(typ) == "") {
		return Addon{}, fmt.Errorf("%s:%d: [[%s]] type must be a non-empty string, got %s", file, line, section, typeName(e["type"]))
	}
	if _, set := e["name"]; set && !okName {
		return Addon{}, fmt.Errorf("%s:%d: [[%s]] name must be a string, got %s", file, line, section, typeName(e["name"]))
	}
	if typ == "" {
		typ, name = name, "" // legacy: name doubles as the type
	}
	if typ == "" {
		return Addon{}, fmt.Errorf("%s:%d: [[%s]] entry %d has neither type nor name\n"+
			"set type to the backing service, e.g. type = \"postgresql\" (also mysql, redis)", file, line, section, i+1)
	}
	return Addon{Type: typ, Name: name, Source: fmt.Sprintf("%s:%d [[%s]]", file, line, section)}, nil
}

// tables is v as a list of tables ([[x]] sections or an inline array of
// inline tables); ok is false when it is not one.
func tables(v any) ([]map[string]any, bool) {
	switch v := v.(type) {
	case []map[string]any:
		return v, true
	case []any:
		out := []map[string]any{}
		for _, e := range v {
			t, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			out = append(out, t)
		}
		return out, true
	}
	return nil, false
}

// entryLine is the line of the i-th [[section]] header (1 when not found).
func entryLine(data []byte, section string, i int) int {
	re := regexp.MustCompile(`^\s*\[\[\s*` + regexp.QuoteMeta(section) + `\s*\]\]`)
	n := 0
	for l, line := range strings.Split(string(data), "\n") {
		if re.MatchString(line) {
			if n == i {
				return l + 1
			}
			n++
		}
	}
	return lineOf(data, "", section)
}

// readHealthcheck reads [healthcheck], or [run] healthcheck (a path) and
// healthcheck-timeout when there is no [healthcheck] path.
func (r *Run) readHealthcheck(doc map[string]any, data []byte) error {
	var h Healthcheck
	if raw, ok := doc["healthcheck"]; ok {
		t, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("%s:%d: healthcheck must be a table, got %s\nwrite it as a [healthcheck] section with path = \"/health\"",
				r.TOML, lineOf(data, "", "healthcheck"), typeName(raw))
		}
		h.Source = fmt.Sprintf("%s:%d [healthcheck]", r.TOML, lineOf(data, "", "healthcheck"))
		for key, dst := range map[string]*string{"path": &h.Path, "contains": &h.Contains} {
			if err := r.stringKey(t, data, "healthcheck", key, dst); err != nil {
				return err
			}
		}
		for key, dst := range map[string]*int{"interval": &h.Interval, "timeout": &h.Timeout, "retries": &h.Retries} {
			if err := r.secondsKey(t, data, "healthcheck", key, dst); err != nil {
				return err
			}
		}
	}
	run, _ := doc["run"].(map[string]any)
	if _, ok := run["healthcheck"]; ok && h.Path == "" {
		if err := r.stringKey(run, data, "run", "healthcheck", &h.Path); err != nil {
			return err
		}
		h.Source = fmt.Sprintf("%s:%d [run] healthcheck", r.TOML, lineOf(data, "run", "healthcheck"))
		if err := r.secondsKey(run, data, "run", "healthcheck-timeout", &h.Timeout); err != nil {
			return err
		}
	}
	if h.Source == "" {
		return nil
	}
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		return fmt.Errorf("%s: path %q must start with /, e.g. \"/health\"", h.Source, h.Path)
	}
	r.Healthcheck = &h
	return nil
}

func (r *Run) stringKey(t map[string]any, data []byte, table, key string, dst *string) error {
	v, ok := t[key]
	if !ok {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("%s:%d: [%s] %s must be a string, got %s", r.TOML, lineOf(data, table, key), table, key, typeName(v))
	}
	*dst = s
	return nil
}

func (r *Run) secondsKey(t map[string]any, data []byte, table, key string, dst *int) error {
	v, ok := t[key]
	if !ok {
		return nil
	}
	n, ok := v.(int64)
	if !ok || n < 1 || n > 1<<31-1 {
		return fmt.Errorf("%s:%d: [%s] %s must be a positive integer, got %v (%s)", r.TOML, lineOf(data, table, key), table, key, v, typeName(v))
	}
	*dst = int(n)
	return nil
}

// envFilledByHop3 names each [env] value Hop3's server fills itself
// (generated secrets, references to addons and app facts, [env.computed]):
// a buildpack cannot, so the platform must set the variable.
func envFilledByHop3(doc map[string]any, data []byte, file string) []string {
	env, _ := doc["env"].(map[string]any)
	var notes []string
	for _, name := range sortedNames(env) {
		spec, ok := env[name].(map[string]any)
		if !ok || strings.HasPrefix(name, "_") {
			continue
		}
		if name == "computed" {
			for _, c := range sortedNames(spec) {
				notes = append(notes, fmt.Sprintf("%s:%d: [env.computed] %s = %q is expanded by Hop3's server at deploy, not by a buildpack: "+
					"set %s on the platform (a config var, `docker run -e`, a Kubernetes Secret or ConfigMap) to that value",
					file, lineOf(data, "env.computed", c), c, fmt.Sprint(spec[c]), c))
			}
			continue
		}
		line := lineOf(data, "env", name)
		if line == 1 {
			line = lineOf(data, "", "env."+name)
		}
		notes = append(notes, fmt.Sprintf("%s:%d: [env] %s = %s is filled by Hop3's server, not by a buildpack: set %s on the platform "+
			"(a config var, `docker run -e`, a Kubernetes Secret)%s", file, line, name, inline(spec), name, envHint(spec)))
	}
	return notes
}

// envHint says what to set a Hop3-filled variable to.
func envHint(spec map[string]any) string {
	if kind, ok := spec["generate"].(string); ok {
		cmd := map[string]string{"hex": "openssl rand -hex 32", "base64": "openssl rand -base64 32", "urlsafe": "openssl rand -base64 32 | tr '+/' '-_'",
			"password": "openssl rand -base64 18", "uuid": "cat /proc/sys/kernel/random/uuid"}[kind]
		if cmd == "" {
			return "; Hop3 generates it once and keeps it, so generate it once yourself"
		}
		prefix, _ := spec["prefix"].(string)
		if prefix != "" {
			return fmt.Sprintf(", generated once: %q followed by the output of `%s`", prefix, cmd)
		}
		return fmt.Sprintf(", generated once, e.g. with `%s`", cmd)
	}
	if from, ok := spec["from"].(string); ok {
		return fmt.Sprintf(", to the %v of the service the addon %q stands for", spec["key"], from)
	}
	if key, ok := spec["key"].(string); ok {
		return fmt.Sprintf(", to the app's %s", key)
	}
	if _, ok := spec["external_ip"]; ok {
		return ", to the host's public IP address"
	}
	return " (Hop3 refuses a table value that is neither { generate = ... } nor a reference)"
}

// inline renders a table as TOML's inline form, keys sorted.
func inline(t map[string]any) string {
	var parts []string
	for _, k := range sortedNames(t) {
		v := t[k]
		if s, ok := v.(string); ok {
			parts = append(parts, fmt.Sprintf("%s = %q", k, s))
		} else {
			parts = append(parts, fmt.Sprintf("%s = %v", k, v))
		}
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

func sortedNames(m map[string]any) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
