package config

import (
	"fmt"
	"sort"
	"strings"
)

// schema lists the keys Hop3's hop3.toml schema (hop3-server
// project/schema.py, which forbids unknown keys) accepts in each table, plus
// ADR 006's [build] method and [build.nix]. "*" accepts any key; a table
// path with ".*" describes each entry of a table of tables.
var schema = map[string][]string{
	"": {"metadata", "build", "run", "env", "port", "docker", "healthcheck", "backup", "static", "domains",
		"contexts", "addons", "provider", "test", "nix"},
	"metadata":          {"id", "version", "title", "description", "author", "license", "name", "homepage", "categories", "tags"},
	"build":             {"builder", "toolchain", "before-build", "after-build", "build", "test", "packages", "node-version", "pip-install", "ignore", "ignore-file", "method", "nix"},
	"build.nix":         {"file", "pure", "nixpkgs", "attr"},
	"run":               {"start", "before-run", "workers", "start-timeout", "packages", "static", "healthcheck", "healthcheck-timeout"},
	"run.workers":       {"*"},
	"run.static":        {"*"},
	"env":               {"*"},
	"env.computed":      {"*"},
	"port":              {"*"},
	"port.*":            {"container", "public", "https"},
	"docker":            {"port", "runtime", "build-args"},
	"docker.build-args": {"*"},
	"healthcheck":       {"path", "interval", "timeout", "retries"},
	"backup":            {"paths", "exclude"},
	"static":            {"*"},
	"domains":           {"list", "_policy"},
	"contexts":          {"*"},
	"contexts.*":        {"server", "app", "domains", "env"},
	"contexts.*.env":    {"*"},
	"addons":            {"*"},
	"provider":          {"*"},
	"test":              {"priority", "tier", "targets", "author", "covers", "validations", "expects-failure"},
	"test.validations":  {"type", "path", "status", "status-in", "contains"},
	"nix":               {"*"},
}

// notApplied are the settings a buildpack cannot honour: Hop3's server
// acts on them (proxy, uWSGI, addons, backups, its own build steps).
var notApplied = []string{
	"build.toolchain", "build.before-build", "build.after-build", "build.build", "build.test", "build.packages",
	"build.node-version", "build.pip-install", "build.ignore", "build.ignore-file",
	"run.before-run", "run.start-timeout", "run.packages", "run.static", "run.healthcheck", "run.healthcheck-timeout",
	"env._policy", "env.computed", "port", "docker", "healthcheck", "backup", "static", "domains", "contexts",
	"addons", "provider", "nix",
}

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

// presentNotApplied names the settings of doc the buildpack does not apply.
func presentNotApplied(doc map[string]any) []string {
	var present []string
	for _, p := range notApplied {
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
