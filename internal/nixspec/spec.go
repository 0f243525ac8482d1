// Package nixspec reads hop3.toml's [nix] table (Hop3's ADR 008 templates)
// into a Spec, refusing what Hop3's toml_adapter refuses: an unknown
// template, a key the template does not read (naming its owner, or what
// replaced a retired key), a value of the wrong type, a malformed nixpkgs
// pin, each with the file and line. What each template needs to generate
// its expression is checked by internal/nixgen, which writes it.
package nixspec

import (
	"errors"
	"regexp"
	"sort"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/hop3toml"
)

// DefaultName is the app's name when [metadata] has no id (Hop3 uses the
// name the app is deployed as, which a buildpack does not know).
const DefaultName = "app"

// ErrNoTemplate means hop3.toml has no [nix] template: nothing to generate.
var ErrNoTemplate = errors.New("hop3.toml has no [nix] template")

// KV is one entry of a TOML table whose order matters (exports, INI keys).
type KV struct{ Key, Value string }

// ConfigFile is a [[nix.config-files]] entry: a file the wrapper writes at
// every start (or only when missing), through an unquoted heredoc so that
// ${VAR} and $(cmd) expand then.
type ConfigFile struct {
	Path, Format, Raw string
	Sections          []Section
	CreateIfMissing   bool
}

// Section is an INI section of a config file.
type Section struct {
	Name string
	Keys []KV
}

// ConditionalEnv is a [[nix.conditional-env]] entry: Name is exported with
// Value when the variable If is empty at start.
type ConditionalEnv struct{ Name, If, Value string }

// FileMapping is a [[nix.file-mappings]] entry of prebuilt-archive: what
// to copy from the unpacked archive into the output.
type FileMapping struct {
	Source, Destination   string
	Recursive, Executable bool
}

// Spec is what hop3.toml says of the expression to generate.
type Spec struct {
	// File names hop3.toml in messages ("hop3.toml", "hop3/hop3.toml").
	File string
	// Template is [nix] template; Line the line that sets it.
	Template string
	Line     int
	// Pname, Version and Description come from [metadata] id, version and
	// description ([nix] version when [metadata] has none).
	Pname, Version, Description string

	URL, SHA256, Archive       string
	Executable                 bool
	SourceRoot, RuntimePackage string
	StripComponents            int
	NixpkgsRev, NixpkgsSHA256  string
	ExecTarget                 string
	ExecArgs, PreExec          []string
	LocalVars, EnvExports      []KV
	RuntimeEnv                 []KV
	WritableHome               bool
	WritableHomeEnvVar         string
	ExtraPaths, RuntimeLibs    []string
	ConfigFiles                []ConfigFile
	ConditionalEnv             []ConditionalEnv
	FileMappings               []FileMapping
	own                        map[string]any // the template's own keys, typed
	lines                      lines
}

type kind int

const (
	kString kind = iota
	kBool
	kInt
	kList
	kTable
	kEntries
)

var kinds = func() map[string]kind {
	m := map[string]kind{}
	for _, k := range []string{"executable", "writable-home-at-runtime", "unpack-without-top-level", "needs-composer",
		"composer-strict-validation", "single-file", "skip-source-copy", "needs-writable-dir", "go-proxy-vendor", "go-frontend-pnpm"} {
		m[k] = kBool
	}
	m["strip-components"] = kInt
	for _, k := range []string{"exec-args", "pre-exec", "extra-paths", "nix-runtime-libs", "node-native-packages", "gradle-patches",
		"gradle-flags", "php-extensions", "composer-extra-flags", "post-install-dirs", "extra-native-build-inputs", "install-files",
		"go-sub-packages", "go-ldflags", "go-static-dirs"} {
		m[k] = kList
	}
	for _, k := range []string{"local-vars", "env-exports", "runtime-env", "nixpkgs-overrides", "let-extra", "env-exports-raw"} {
		m[k] = kTable
	}
	for k := range entryKeys {
		m[k] = kEntries
	}
	return m
}()

var (
	revRE    = regexp.MustCompile(`^[0-9a-f]{40}$`)
	sha256RE = regexp.MustCompile(`^(?:[0-9abcdfghijklmnpqrsvwxyz]{52}|sha256-[A-Za-z0-9+/]{43}=)$`)
	pnameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
)

// Parse reads hop3.toml's [nix] and [metadata]. It returns ErrNoTemplate
// when [nix] names no template, and an error naming file, line and key for
// a key the template does not read (Hop3 refuses them too), a value of the
// wrong type, or a malformed nixpkgs pin. appName is the name used when
// [metadata] has no id.
func Parse(data []byte, file, appName string) (Spec, error) {
	doc, md, err := hop3toml.Decode(data, file)
	if err != nil {
		return Spec{}, err
	}
	s := Spec{File: file, lines: locate(data), own: map[string]any{}}
	nix, ok := doc["nix"].(map[string]any)
	if !ok {
		return s, ErrNoTemplate
	}
	t, ok := nix["template"]
	if !ok {
		return s, ErrNoTemplate
	}
	s.Line = s.lines.of("nix.template")
	if s.Template, ok = t.(string); !ok || s.Template == "" {
		return s, s.Errorf("nix.template", "[nix] template must be a template name, got %s\nwrite e.g. template = \"prebuilt-binary\"; templates: %s",
			typeName(t), strings.Join(Templates, ", "))
	}
	if !isTemplate(s.Template) {
		return s, s.Errorf("nix.template", "[nix] template %q is not one of Hop3's templates\nuse one of: %s", s.Template, strings.Join(Templates, ", "))
	}
	if err := s.checkKeys(nix); err != nil {
		return s, err
	}
	order := keyOrder(md)
	for key, v := range nix {
		if err := s.set(key, v, order); err != nil {
			return s, err
		}
	}
	if err := s.identity(doc, appName); err != nil {
		return s, err
	}
	return s, s.checkPin()
}

// checkKeys refuses, as Hop3's toml_adapter does, a retired key, a key of
// another template and an unknown key; the first in file order.
func (s *Spec) checkKeys(nix map[string]any) error {
	keys := make([]string, 0, len(nix))
	for k := range nix {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return s.lines.of("nix."+keys[i]) < s.lines.of("nix."+keys[j]) })
	known := knownKeys(s.Template)
	for _, k := range keys {
		if contains(known, k) {
			continue
		}
		path := "nix." + k
		if why, ok := retiredKeys[k]; ok {
			return s.Errorf(path, "[nix] %s is no longer supported by Hop3: %s", k, why)
		}
		if o := owners(k); len(o) > 0 {
			return s.Errorf(path, "[nix] %s belongs to the %s template, not to %q: it would have no effect here\n"+
				"remove it, or choose that template", k, strings.Join(o, " / "), s.Template)
		}
		return s.Errorf(path, "[nix] %s is not a key of the %q template (Hop3 refuses it)\nknown keys: %s", k, s.Template, strings.Join(known, ", "))
	}
	return nil
}

// identity reads [metadata] id, version and description as Hop3 does: id
// falls back to the app's name, version to [nix] version.
func (s *Spec) identity(doc map[string]any, appName string) error {
	meta, _ := doc["metadata"].(map[string]any)
	s.Pname = appName
	if id, ok := meta["id"]; ok {
		s.Pname = scalar(id)
	}
	if !pnameRE.MatchString(s.Pname) {
		return s.Errorf("metadata.id", "[metadata] id %q cannot name the app's files (its wrapper is $out/bin/<id>)\n"+
			"use letters, digits, '_' and '-', starting with a letter or '_' (it also names Nix bindings)", s.Pname)
	}
	if v, ok := meta["version"]; ok {
		s.Version = scalar(v)
	} else if v, ok := s.own["version"]; ok {
		s.Version = v.(string)
	}
	if d, ok := meta["description"].(string); ok {
		s.Description = d
	}
	return nil
}
