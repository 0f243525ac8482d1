package nixspec

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// set checks the type of one [nix] key and stores it.
func (s *Spec) set(key string, v any, order map[string]int) error {
	path := "nix." + key
	switch kinds[key] {
	case kBool:
		b, ok := v.(bool)
		if !ok {
			return s.Errorf(path, "[nix] %s must be true or false, got %s", key, typeName(v))
		}
		s.store(key, b)
	case kInt:
		n, ok := v.(int64)
		if !ok || n < 0 {
			return s.Errorf(path, "[nix] %s must be a whole number >= 0, got %s", key, typeName(v))
		}
		s.StripComponents = int(n)
	case kList:
		l, err := stringList(v)
		if err != nil {
			return s.Errorf(path, "[nix] %s must be a list of strings, %v\nwrite e.g. %s = [\"...\"]", key, err, key)
		}
		s.store(key, l)
	case kTable:
		t, ok := v.(map[string]any)
		if !ok {
			return s.Errorf(path, "[nix] %s must be a table of strings, got %s\nwrite it as a [nix.%s] section", key, typeName(v), key)
		}
		kvs, err := orderedTable(t, path, order)
		if err != nil {
			return s.Errorf(path, "[nix.%s] %v", key, err)
		}
		s.store(key, kvs)
	case kEntries:
		return s.setEntries(key, v, order)
	default:
		str, ok := v.(string)
		if !ok {
			if key != "version" {
				return s.Errorf(path, "[nix] %s must be a string, got %s\nquote the value, e.g. %s = \"...\"", key, typeName(v), key)
			}
			str = scalar(v)
		}
		s.store(key, str)
	}
	return nil
}

// store files a checked value under its field, or with the template's own.
func (s *Spec) store(key string, v any) {
	switch key {
	case "url":
		s.URL = v.(string)
	case "sha256":
		s.SHA256 = v.(string)
	case "archive":
		s.Archive = v.(string)
	case "executable":
		s.Executable = v.(bool)
	case "source-root":
		s.SourceRoot = v.(string)
	case "runtime-package":
		s.RuntimePackage = v.(string)
	case "nixpkgs-rev":
		s.NixpkgsRev = v.(string)
	case "nixpkgs-sha256":
		s.NixpkgsSHA256 = v.(string)
	case "exec-target":
		s.ExecTarget = v.(string)
	case "exec-args":
		s.ExecArgs = v.([]string)
	case "pre-exec":
		s.PreExec = v.([]string)
	case "local-vars":
		s.LocalVars = v.([]KV)
	case "env-exports":
		s.EnvExports = v.([]KV)
	case "runtime-env":
		s.RuntimeEnv = v.([]KV)
	case "writable-home-at-runtime":
		s.WritableHome = v.(bool)
	case "writable-home-env-var":
		s.WritableHomeEnvVar = v.(string)
	case "extra-paths":
		s.ExtraPaths = v.([]string)
	case "nix-runtime-libs":
		s.RuntimeLibs = v.([]string)
	case "template":
	default:
		s.own[key] = v
	}
}

func (s *Spec) setEntries(key string, v any, order map[string]int) error {
	path := "nix." + key
	entries, ok := v.([]map[string]any)
	if !ok {
		return s.Errorf(path, "[nix] %s must be an array of tables, got %s\nwrite each entry as a [[nix.%s]] section", key, typeName(v), key)
	}
	for i, e := range entries {
		en := entry{s: s, key: key, at: fmt.Sprintf("%s#%d", path, i), n: i + 1, e: e}
		for k := range e {
			if !contains(entryKeys[key], k) {
				return s.Errorf(en.at+"."+k, "[[nix.%s]] %s is not a key of a %s entry\nknown keys: %s", key, k, key, strings.Join(entryKeys[key], ", "))
			}
		}
		if err := s.addEntry(en, order); err != nil {
			return err
		}
	}
	return nil
}

// entry is the n-th [[nix.<key>]] table, found at at.
type entry struct {
	s       *Spec
	key, at string
	n       int
	e       map[string]any
}

// str is the entry's string k: def when absent, an error when required.
func (en entry) str(k string, required bool, def string) (string, error) {
	v, ok := en.e[k]
	if !ok {
		if required {
			return "", en.s.Errorf(en.at, "[[nix.%s]] entry %d has no %s\nadd %s = \"...\"", en.key, en.n, k, k)
		}
		return def, nil
	}
	if x, ok := v.(string); ok {
		return x, nil
	}
	return "", en.s.Errorf(en.at+"."+k, "[[nix.%s]] %s must be a string, got %s", en.key, k, typeName(v))
}

// flag is the entry's boolean k, def when absent.
func (en entry) flag(k string, def bool) (bool, error) {
	v, ok := en.e[k]
	if !ok {
		return def, nil
	}
	if b, ok := v.(bool); ok {
		return b, nil
	}
	return false, en.s.Errorf(en.at+"."+k, "[[nix.%s]] %s must be true or false, got %s", en.key, k, typeName(v))
}

// addEntry reads one entry into the Spec's list for its key.
func (s *Spec) addEntry(en entry, order map[string]int) error {
	var errs [6]error
	switch en.key {
	case "config-files":
		var cf ConfigFile
		cf.Path, errs[0] = en.str("path", true, "")
		cf.Format, errs[1] = en.str("format", false, "raw")
		cf.Raw, errs[2] = en.str("raw-content", false, "")
		cf.CreateIfMissing, errs[3] = en.flag("create-if-missing", false)
		if err := firstError(errs[:]); err != nil {
			return err
		}
		if err := s.configFile(&cf, en.e, en.at, order); err != nil {
			return err
		}
		s.ConfigFiles = append(s.ConfigFiles, cf)
	case "conditional-env":
		var c ConditionalEnv
		c.Name, errs[0] = en.str("name", true, "")
		c.If, errs[1] = en.str("condition-var", false, c.Name)
		c.Value, errs[2] = en.str("value", true, "")
		if err := firstError(errs[:]); err != nil {
			return err
		}
		s.ConditionalEnv = append(s.ConditionalEnv, c)
	case "file-mappings":
		var m FileMapping
		m.Source, errs[0] = en.str("source", true, "")
		m.Destination, errs[1] = en.str("destination", true, "")
		m.Recursive, errs[2] = en.flag("recursive", true)
		m.Executable, errs[3] = en.flag("executable", false)
		if err := firstError(errs[:]); err != nil {
			return err
		}
		s.FileMappings = append(s.FileMappings, m)
	}
	return nil
}

// configFile checks a config file's format and reads its INI sections.
func (s *Spec) configFile(cf *ConfigFile, e map[string]any, at string, order map[string]int) error {
	_, hasRaw := e["raw-content"]
	switch cf.Format {
	case "raw":
		if !hasRaw {
			return s.Errorf(at, "[[nix.config-files]] %s has format raw but no raw-content\nadd raw-content = \"\"\"...\"\"\"", cf.Path)
		}
	case "ini":
		sections, ok := e["sections"].(map[string]any)
		if _, present := e["sections"]; present && !ok {
			return s.Errorf(at+".sections", "[[nix.config-files]] sections must be tables of strings, got %s", typeName(e["sections"]))
		}
		names := sortedByOrder(sections, "nix.config-files.sections", order)
		for _, name := range names {
			t, ok := sections[name].(map[string]any)
			if !ok {
				return s.Errorf(at+".sections."+name, "[nix.config-files.sections.%s] must be a table, got %s", name, typeName(sections[name]))
			}
			kvs, err := orderedTable(t, "nix.config-files.sections."+name, order)
			if err != nil {
				return s.Errorf(at+".sections."+name, "[nix.config-files.sections.%s] %v", name, err)
			}
			cf.Sections = append(cf.Sections, Section{Name: name, Keys: kvs})
		}
	default:
		return s.Errorf(at+".format", "[[nix.config-files]] %s: format %q is not supported (Hop3 supports ini and raw)\n"+
			"write JSON, YAML or anything else as format = \"raw\" with raw-content", cf.Path, cf.Format)
	}
	return nil
}

// checkPin refuses a malformed per-app nixpkgs pin, as Hop3 does: both
// keys together, a 40-hex commit and a Nix sha256.
func (s *Spec) checkPin() error {
	rev, sha := s.NixpkgsRev, s.NixpkgsSHA256
	switch {
	case rev == "" && sha == "":
		return nil
	case rev == "" || sha == "":
		path := "nix.nixpkgs-rev"
		if rev == "" {
			path = "nix.nixpkgs-sha256"
		}
		return s.Errorf(path, "[nix] nixpkgs-rev and nixpkgs-sha256 must be set together (a commit needs its fetchTarball sha256)")
	case !revRE.MatchString(rev):
		return s.Errorf("nix.nixpkgs-rev", "[nix] nixpkgs-rev must be a 40-character git commit, got %q\npick a nixpkgs commit, e.g. from the nixos-24.11 branch", rev)
	case !sha256RE.MatchString(sha):
		return s.Errorf("nix.nixpkgs-sha256", "[nix] nixpkgs-sha256 must be a Nix sha256 (52 base-32 characters or sha256-<base64>), got %q\n"+
			"get it with: nix-prefetch-url --unpack https://github.com/NixOS/nixpkgs/archive/%s.tar.gz", sha, rev)
	}
	return nil
}

// Errorf is an error naming hop3.toml and the line of path, a dotted key
// path ("nix.exec-target"; "nix" for the table itself).
func (s *Spec) Errorf(path, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", s.File, s.lines.of(path), fmt.Sprintf(format, args...))
}

// Str is the template's own key key (a string), or def when unset: the
// defaults are those of Hop3's template payloads.
func (s *Spec) Str(key, def string) string {
	if v, ok := s.own[key].(string); ok {
		return v
	}
	return def
}

// Flag is the template's own boolean key key, or def when unset.
func (s *Spec) Flag(key string, def bool) bool {
	if v, ok := s.own[key].(bool); ok {
		return v
	}
	return def
}

// List is the template's own list key key (nil when unset).
func (s *Spec) List(key string) []string {
	v, _ := s.own[key].([]string)
	return v
}

// Table is the template's own table key key in the order written (nil
// when unset).
func (s *Spec) Table(key string) []KV {
	v, _ := s.own[key].([]KV)
	return v
}

// keyOrder numbers every key path of the document in the order written.
func keyOrder(md toml.MetaData) map[string]int {
	order := map[string]int{}
	for i, k := range md.Keys() {
		p := k.String()
		if _, ok := order[p]; !ok {
			order[p] = i
		}
	}
	return order
}

func sortedByOrder(t map[string]any, path string, order map[string]int) []string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		oi, oj := order[path+"."+keys[i]], order[path+"."+keys[j]]
		return oi < oj || oi == oj && keys[i] < keys[j]
	})
	return keys
}

// orderedTable is a table of scalars in the order written, each made a
// string as Python's str() makes it (Hop3 interpolates them so).
func orderedTable(t map[string]any, path string, order map[string]int) ([]KV, error) {
	var kvs []KV
	for _, k := range sortedByOrder(t, path, order) {
		switch t[k].(type) {
		case map[string]any, []any, []map[string]any:
			return nil, fmt.Errorf("%s must be a string, got %s", k, typeName(t[k]))
		}
		kvs = append(kvs, KV{k, scalar(t[k])})
	}
	return kvs, nil
}

func stringList(v any) ([]string, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("got %s", typeName(v))
	}
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("got a list holding %s", typeName(x))
		}
		out = append(out, s)
	}
	return out, nil
}

// scalar renders a TOML scalar as Python's str() does.
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e16 {
			return strconv.FormatFloat(v, 'f', 1, 64)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func firstError(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
