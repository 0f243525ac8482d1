package config

import (
	"fmt"
	"sort"
	"strings"
)

// schema lists the keys Hop3's hop3.toml schema (hop3-server
// project/schema.py, which forbids unknown keys; read at commit 0f517cd9)
// accepts in each table, plus [admin], [probe] and [deploy], which Hop3's
// catalog apps and issue 22 show in use but that schema.py version lacks
// (any key accepted), and ADR 006's [build] method and [build.nix] (this
// buildpack's extensions, which Hop3 refuses). "*" accepts any key; a table
// path with ".*" describes each entry of a table of tables. The keys of
// [nix] are checked by internal/nixgen when [nix] template is set.
var schema = map[string][]string{
	"": {"metadata", "build", "run", "env", "port", "docker", "healthcheck", "backup", "static", "domains",
		"addons", "contexts", "ports", "volumes", "limits", "waf", "provider", "test", "nix", "admin", "probe", "deploy"},
	"metadata": {"id", "version", "title", "description", "author", "license", "name", "homepage", "categories", "tags"},
	"build": {"builder", "toolchain", "static-dir", "before-build", "after-build", "build", "test", "packages", "node-version",
		"pip-install", "ignore", "method", "nix"},
	"build.nix":          {"file", "pure", "nixpkgs", "attr"},
	"run":                {"start", "before-run", "workers", "start-timeout", "packages", "static", "healthcheck", "healthcheck-timeout"},
	"run.workers":        {"*"},
	"run.static":         {"*"},
	"env":                {"*"},
	"env.computed":       {"*"},
	"port":               {"*"},
	"port.*":             {"container", "public", "https"},
	"docker":             {"port", "runtime", "build-args"},
	"docker.build-args":  {"*"},
	"healthcheck":        {"path", "contains", "interval", "timeout", "retries"},
	"backup":             {"paths", "exclude"},
	"static":             {"*"},
	"domains":            {"list", "_policy"},
	"addons":             {"*"},
	"contexts":           {"*"},
	"contexts.*":         {"server", "app", "domains", "env"},
	"contexts.*.domains": {"list", "_policy"},
	"contexts.*.env":     {"*"},
	"ports":              {"number", "protocol", "name", "source"},
	"volumes":            {"name", "target", "type", "size", "mode", "backup"},
	"volumes.backup":     {"include"},
	"limits":             {"memory", "cpu", "processes"},
	"waf":                {"enabled", "mode", "ruleset", "paranoia", "allow", "gate", "tuning", "bans"},
	"waf.gate":           {"paths", "require"},
	"waf.tuning":         {"paths", "disable-rule-ids", "skip-body-inspection", "reason"},
	"waf.bans":           {"enabled", "threshold", "window", "duration"},
	"provider":           {"*"},
	"test":               {"priority", "tier", "targets", "author", "covers", "validations", "expects-failure"},
	"test.validations":   {"type", "path", "status", "status-in", "contains"},
	"nix":                {"*"},
	"admin":              {"*"},
	"probe":              {"*"},
	"deploy":             {"*"},
}

// notApplied are the settings a buildpack cannot honour: Hop3's server
// acts on them (its proxy, firewall, volumes, limits, WAF, backups, test
// harness and its own build steps). [nix] is applied when it names a
// template (see presentNotApplied). The runtime sections a buildpack can
// carry (before-run, [healthcheck], [[addons]]) and the [env] values Hop3
// fills are read in runtime.go, which names what becomes of each.
var notApplied = []string{
	"build.toolchain", "build.static-dir", "build.before-build", "build.after-build", "build.build", "build.test",
	"build.packages", "build.node-version", "build.pip-install", "build.ignore",
	"run.start-timeout", "run.packages", "run.static",
	"env._policy", "port", "docker", "backup", "static", "domains", "contexts",
	"ports", "volumes", "limits", "waf", "admin", "probe", "deploy", "nix",
}

// extensions are this buildpack's keys (ADR 006), which Hop3's schema
// refuses: an app that keeps them does not deploy on Hop3 itself.
var extensions = []string{"build.method", "build.nix"}

// unknownKeys walks a decoded hop3.toml and names every key the schema
// does not know, with its line, sorted by line.
func unknownKeys(doc map[string]any, data []byte, file string) []string {
	type found struct {
		line int
		text string
	}
	var all []found
	var walk func(table map[string]any, path, specPath string)
	walk = func(table map[string]any, path, specPath string) {
		allowed, ok := schema[specPath]
		if !ok {
			return
		}
		for key, v := range table {
			if !contains(allowed, key) && !contains(allowed, "*") {
				line := lineOf(data, path, key)
				where := "at the top level"
				if path != "" {
					where = "in [" + path + "]"
				}
				all = append(all, found{line, fmt.Sprintf("%s:%d: warning: unknown key %q %s (Hop3's schema refuses it); known keys: %s",
					file, line, key, where, strings.Join(allowed, ", "))})
				continue
			}
			child, childSpec := join(path, key), join(specPath, key)
			if _, ok := schema[childSpec]; !ok {
				childSpec = join(specPath, "*")
			}
			switch v := v.(type) {
			case map[string]any:
				walk(v, child, childSpec)
			case []map[string]any:
				for _, t := range v {
					walk(t, child, childSpec)
				}
			}
		}
	}
	walk(doc, "", "")
	sort.Slice(all, func(i, j int) bool {
		return all[i].line < all[j].line || all[i].line == all[j].line && all[i].text < all[j].text
	})
	var out []string
	for _, f := range all {
		out = append(out, f.text)
	}
	return out
}

// extensionNotes names, once each, the buildpack's own keys that doc uses.
func extensionNotes(doc map[string]any, data []byte, file string) []string {
	var notes []string
	for _, p := range extensions {
		if !lookup(doc, p) {
			continue
		}
		table, key, _ := strings.Cut(p, ".")
		what, line := "["+table+"] "+key, lineOf(data, table, key)
		if key == "nix" {
			what, line = "["+p+"]", lineOf(data, "", p)
		}
		notes = append(notes, fmt.Sprintf("%s:%d: note: %s is a nix-buildpack extension (ADR 006): Hop3's own schema refuses it, "+
			"so Hop3 itself will not deploy this hop3.toml as it is", file, line, what))
	}
	return notes
}

// presentNotApplied names the settings of doc the buildpack does not apply.
func presentNotApplied(doc map[string]any) []string {
	var present []string
	for _, p := range notApplied {
		if p == "nix" && lookup(doc, "nix.template") {
			continue // applied: the expression is generated from it
		}
		if lookup(doc, p) {
			if strings.Contains(p, ".") {
				table, key, _ := strings.Cut(p, ".")
				present = append(present, "["+table+"] "+key)
			} else {
				present = append(present, "["+p+"]")
			}
		}
	}
	return present
}

func lookup(doc map[string]any, dotted string) bool {
	var v any = doc
	for _, k := range strings.Split(dotted, ".") {
		t, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = t[k]; !ok {
			return false
		}
	}
	return true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
