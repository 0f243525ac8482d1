package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/hop3toml"
)

// buildTable is what detection needs from hop3.toml.
type buildTable struct {
	selected     string // "nix", another builder, or "" when unsaid
	selectedLine int
	file         string
	fileLine     int
	// nixpkgs and attr are [build.nix] nixpkgs (what <nixpkgs> is) and
	// attr (the flake output to build), with their lines.
	nixpkgs, attr         string
	nixpkgsLine, attrLine int
	// template is [nix] template (Hop3's ADR 008), with its line.
	template     string
	templateLine int
}

// readBuild reads [build] builder/method and [build.nix] file, checking types
// and naming the line of anything malformed; place names the file in
// messages ("hop3.toml", "hop3/hop3.toml").
func readBuild(path, place string) (buildTable, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return buildTable{}, fmt.Errorf("unable to read %s\n%w", path, err)
	}
	doc, _, err := hop3toml.Decode(data, place)
	if err != nil {
		return buildTable{}, err
	}
	r := tableReader{data: data, place: place}
	if err := r.template(doc); err != nil {
		return r.b, err
	}
	rawBuild, ok := doc["build"]
	if !ok {
		return r.b, nil
	}
	build, ok := rawBuild.(map[string]any)
	if !ok {
		return r.b, fmt.Errorf("%s:%d: build must be a table, got %s\nwrite it as a [build] section",
			place, lineOf(data, "", "build"), typeName(rawBuild))
	}
	if err := r.builder(build); err != nil {
		return r.b, err
	}
	return r.b, r.buildNix(build)
}

// tableReader fills a buildTable from hop3.toml's tables, naming the
// file (place) and line of anything malformed.
type tableReader struct {
	data  []byte
	place string
	b     buildTable
}

// template reads [nix] template.
func (r *tableReader) template(doc map[string]any) error {
	nix, ok := doc["nix"].(map[string]any)
	if !ok {
		return nil
	}
	t, ok := nix["template"]
	if !ok {
		return nil
	}
	r.b.templateLine = lineOf(r.data, "nix", "template")
	if r.b.template, ok = t.(string); !ok || strings.TrimSpace(r.b.template) == "" {
		return fmt.Errorf("%s:%d: [nix] template must be a template name, got %s\nwrite e.g. template = \"prebuilt-binary\"",
			r.place, r.b.templateLine, typeName(t))
	}
	return nil
}

// builder reads [build] builder and method (ADR 006's name for it).
func (r *tableReader) builder(build map[string]any) error {
	for _, key := range []string{"builder", "method"} {
		v, ok := build[key]
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s:%d: [build] %s must be a string, got %s\nwrite e.g. %s = \"nix\"",
				r.place, lineOf(r.data, "build", key), key, typeName(v), key)
		}
		if r.b.selected != "" && !strings.EqualFold(s, r.b.selected) {
			return fmt.Errorf("%s:%d: [build] builder and method conflict: one says %q, the other %q\n"+
				"keep one of them (method is ADR 006's name for builder)", r.place, lineOf(r.data, "build", key), r.b.selected, s)
		}
		if r.b.selected == "" || strings.EqualFold(s, "nix") {
			r.b.selected, r.b.selectedLine = strings.ToLower(s), lineOf(r.data, "build", key)
		}
	}
	return nil
}

// buildNix reads [build.nix] file, nixpkgs and attr.
func (r *tableReader) buildNix(build map[string]any) error {
	rawNix, ok := build["nix"]
	if !ok {
		return nil
	}
	nix, ok := rawNix.(map[string]any)
	if !ok {
		return fmt.Errorf("%s:%d: [build] nix must be a table, got %s\nwrite it as a [build.nix] section",
			r.place, lineOf(r.data, "build", "nix"), typeName(rawNix))
	}
	if v, ok := nix["file"]; ok {
		s, ok := v.(string)
		if !ok || s == "" {
			return fmt.Errorf("%s:%d: [build.nix] file must be a non-empty string, got %s\nwrite e.g. file = \"hop3.nix\"",
				r.place, lineOf(r.data, "build.nix", "file"), typeName(v))
		}
		r.b.file, r.b.fileLine = s, lineOf(r.data, "build.nix", "file")
		if r.b.selected == "" {
			r.b.selected, r.b.selectedLine = "nix", r.b.fileLine
		}
	}
	for _, k := range []struct {
		key, example string
		value        *string
		line         *int
	}{
		{"nixpkgs", `nixpkgs = "channel:nixos-24.11"`, &r.b.nixpkgs, &r.b.nixpkgsLine},
		{"attr", `attr = "packages.x86_64-linux.default"`, &r.b.attr, &r.b.attrLine},
	} {
		v, ok := nix[k.key]
		if !ok {
			continue
		}
		s, ok := v.(string)
		*k.line = lineOf(r.data, "build.nix", k.key)
		if !ok || strings.TrimSpace(s) == "" {
			return fmt.Errorf("%s:%d: [build.nix] %s must be a non-empty string, got %s\nwrite e.g. %s",
				r.place, *k.line, k.key, typeName(v), k.example)
		}
		*k.value = strings.TrimSpace(s)
	}
	return nil
}

var headerRE = regexp.MustCompile(`^\s*\[\[?\s*([^\]]+?)\s*\]`) // [table] and [[array.of.tables]]

// lineOf finds the line that sets key inside table ("" for the top level),
// for error messages; 1 when it cannot tell (dotted keys, inline tables).
func lineOf(data []byte, table, key string) int {
	current := ""
	keyRE := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=`)
	for i, line := range strings.Split(string(data), "\n") {
		if m := headerRE.FindStringSubmatch(line); m != nil {
			current = strings.ReplaceAll(m[1], " ", "")
			if table == "" && current == key {
				return i + 1
			}
			continue
		}
		if current == table && keyRE.MatchString(line) {
			return i + 1
		}
		if table != "" && current == "" && regexp.MustCompile(`^\s*`+regexp.QuoteMeta(table)+`\.`+regexp.QuoteMeta(key)+`\s*=`).MatchString(line) {
			return i + 1
		}
	}
	return 1
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any, []map[string]any:
		return "array"
	case map[string]any:
		return "table"
	}
	return fmt.Sprintf("%T", v)
}
