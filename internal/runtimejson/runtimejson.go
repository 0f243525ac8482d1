// Package runtimejson reads the Hop3 runtime description an app's Nix output
// carries at $out/hop3/runtime.json:
//
//	{"workers": {"web": "<command>"}, "env": {...}, "path": [...]}
//
// A worker is a shell command line, or {"static": "<dir>"} for a directory
// served over HTTP. As in Hop3 (hop3-server plugins/build/nix/builder.py and
// run/uwsgi/worker.py), the worker named "static" is a directory, never a
// command: {"workers": {"static": "$out/public"}} is a static site.
//
// Unlike Hop3, which prepends each path entry in turn (so the last comes
// first), Path keeps the order as written: the first entry is searched first.
package runtimejson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// RelPath is where the description lives inside a Nix output.
const RelPath = "hop3/runtime.json"

// StaticWorker is the worker Hop3 reads as a directory to serve.
const StaticWorker = "static"

// Runtime is an app's runtime description.
type Runtime struct {
	// Workers maps a process type (web, worker, ...) to what it runs.
	Workers map[string]Worker
	// Env is set in every process's environment.
	Env map[string]string
	// Path entries are prepended to PATH, in order.
	Path []string
}

// Worker is one process type.
type Worker struct {
	// Command is a POSIX shell command line, expanded at launch.
	Command string
	// Static is a directory to serve over HTTP, when the worker is static.
	Static string
}

// Types lists the process types, web first, then by name.
func (r Runtime) Types() []string {
	types := make([]string, 0, len(r.Workers))
	for t := range r.Workers {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool {
		if (types[i] == "web") != (types[j] == "web") {
			return types[i] == "web"
		}
		return types[i] < types[j]
	})
	return types
}

// Parse reads a runtime description; file names it in errors.
func Parse(data []byte, file string) (Runtime, error) {
	raw, err := decode(data, file)
	if err != nil {
		return Runtime{}, err
	}
	rt := Runtime{}
	if rt.Workers, err = parseWorkers(raw.Workers, file); err != nil {
		return Runtime{}, err
	}
	if rt.Env, err = parseEnv(raw.Env, file); err != nil {
		return Runtime{}, err
	}
	if rt.Path, err = parsePath(raw.Path, file); err != nil {
		return Runtime{}, err
	}
	return rt, nil
}

// rawRuntime is runtime.json's top level, its values not decoded yet.
type rawRuntime struct {
	Workers map[string]json.RawMessage `json:"workers"`
	Env     map[string]json.RawMessage `json:"env"`
	Path    json.RawMessage            `json:"path"`
}

// decode checks data (UTF-8, nesting depth, structure) and decodes its top
// level.
func decode(data []byte, file string) (rawRuntime, error) {
	var raw rawRuntime
	if err := checkUTF8(data, file); err != nil {
		return raw, err
	}
	if err := checkDepth(data, file); err != nil {
		return raw, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return raw, decodeError(data, file, err)
	}
	return raw, checkStructure(data, file)
}

// parseWorkers reads "workers": at least one, each a command line or a
// static directory, named as a process type.
func parseWorkers(raw map[string]json.RawMessage, file string) (map[string]Worker, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("%s: \"workers\" is missing or empty\n"+
			"declare at least one process, e.g. {\"workers\": {\"web\": \"myserver --port $PORT\"}}", file)
	}
	workers := map[string]Worker{}
	for _, name := range sortedKeys(raw) {
		w, err := parseWorker(raw[name])
		if err == nil && name == StaticWorker && w.Command != "" && w.Static == "" {
			w = Worker{Static: w.Command}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: workers.%s %w", file, name, err)
		}
		if !validType(name) {
			return nil, fmt.Errorf("%s: workers.%s: a process type may hold only letters, digits, '-' and '_'", file, name)
		}
		workers[name] = w
	}
	return workers, nil
}

// parseEnv reads "env": string values under variable names.
func parseEnv(raw map[string]json.RawMessage, file string) (map[string]string, error) {
	env := map[string]string{}
	for _, k := range sortedKeys(raw) {
		msg := raw[k]
		if !envNameRE.MatchString(k) {
			return nil, fmt.Errorf("%s: env key %q is not an environment variable name\n"+
				"a name holds letters, digits and '_' and does not start with a digit ([A-Za-z_][A-Za-z0-9_]*); rename it", file, k)
		}
		var s string
		if err := json.Unmarshal(msg, &s); err != nil {
			return nil, fmt.Errorf("%s: env.%s must be a string, got %s\nquote the value, e.g. \"%s\": \"1\"",
				file, k, jsonType(msg), k)
		}
		env[k] = s
	}
	return env, nil
}

// parsePath reads "path": absolute directories, or nothing.
func parsePath(raw json.RawMessage, file string) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var path []string
	if err := json.Unmarshal(raw, &path); err != nil {
		return nil, fmt.Errorf("%s: path must be an array of strings, got %s\nwrite e.g. \"path\": [\"/nix/store/...-app/bin\"]",
			file, jsonType(raw))
	}
	for i, p := range path {
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("%s: path[%d] = %q is not an absolute directory\n"+
				"PATH entries from runtime.json must be absolute, e.g. \"/nix/store/...-app/bin\" (write \"$out/bin\" in the build so Nix expands it)",
				file, i, p)
		}
	}
	return path, nil
}

func parseWorker(msg json.RawMessage) (Worker, error) {
	var cmd string
	if err := json.Unmarshal(msg, &cmd); err == nil {
		if strings.TrimSpace(cmd) == "" {
			return Worker{}, errors.New("is an empty command\ngive the command line the process runs")
		}
		return Worker{Command: cmd}, nil
	}
	var obj struct {
		Static  *string `json:"static"`
		Command *string `json:"command"`
	}
	if err := json.Unmarshal(msg, &obj); err != nil || (obj.Static == nil) == (obj.Command == nil) {
		return Worker{}, fmt.Errorf("must be a command string or {\"static\": \"<dir>\"}, got %s", jsonType(msg))
	}
	if obj.Command != nil {
		return Worker{Command: *obj.Command}, nil
	}
	if *obj.Static == "" {
		return Worker{}, errors.New("static directory is empty\nname the directory to serve, e.g. {\"static\": \"/nix/store/...-site/public\"}")
	}
	return Worker{Static: *obj.Static}, nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func validType(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

// decodeError turns a JSON error into one naming the line and column.
func decodeError(data []byte, file string, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := position(data, se.Offset)
		return fmt.Errorf("%s:%d:%d: invalid JSON (offset %d): %v\nfix what the package's build writes to $out/%s", file, line, col, se.Offset, se, RelPath)
	case errors.As(err, &te):
		line, col := position(data, te.Offset)
		field := te.Field
		if field == "" {
			field = "the top level"
		}
		return fmt.Errorf("%s:%d:%d: %s must be %s, got %s", file, line, col, field, want(te.Type), te.Value)
	case errors.Is(err, errors.New("EOF")) || err.Error() == "EOF":
		return fmt.Errorf("%s: empty file; expected a JSON object with \"workers\"", file)
	}
	return fmt.Errorf("%s: invalid JSON\n%w", file, err)
}

// want names in JSON's words what a Go type decodes from.
func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "a " + t.String()
}

// position gives the line and column of the byte before offset: encoding/json
// reports offsets just past the first byte of the offending token.
func position(data []byte, offset int64) (line, col int) {
	if offset > 0 {
		offset--
	}
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

func jsonType(msg json.RawMessage) string {
	s := strings.TrimSpace(string(msg))
	switch {
	case s == "":
		return "nothing"
	case s[0] == '"':
		return "a string"
	case s[0] == '{':
		return "an object"
	case s[0] == '[':
		return "an array"
	case s == "true" || s == "false":
		return "a boolean"
	case s == "null":
		return "null"
	}
	return "a number"
}
