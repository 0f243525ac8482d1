package heroku

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Env is the configuration a Heroku-style platform gives compile: the
// process environment, overlaid with ENV_DIR, where each file's name is a
// variable and its contents the value (the Heroku buildpack API; Dokku and
// Cloud Foundry write the same layout). ENV_DIR is not exported wholesale:
// only the variables this buildpack reads are taken from it.
type Env struct {
	vars   map[string]string
	source map[string]string
}

// LoadEnv reads the process environment and then, from envDir, the files
// of the named variables (envDir may be "" or missing: some platforms pass
// none). A file of a named variable that cannot be read is an error naming
// it, so that a setting is never silently ignored; other files are not
// this buildpack's business and are not opened.
func LoadEnv(envDir string, names []string) (Env, error) {
	e := Env{vars: map[string]string{}, source: map[string]string{}}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			e.vars[k], e.source[k] = v, "the environment"
		}
	}
	if envDir == "" {
		return e, nil
	}
	if _, err := os.Stat(envDir); os.IsNotExist(err) {
		return e, nil
	}
	for _, name := range names {
		p := filepath.Join(envDir, name)
		fi, err := os.Lstat(p)
		if os.IsNotExist(err) {
			continue
		}
		if err == nil && fi.IsDir() {
			return e, fmt.Errorf("config var %s: %s is a directory, expected a file holding the value\nremove it, or set %s again on the platform", name, p, name)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return e, fmt.Errorf("unable to read config var %s from %s\n%w\nmake the file readable by the build user, or unset %s on the platform",
				name, p, err, name)
		}
		// Platforms that write the files with echo add one newline.
		e.vars[name] = strings.TrimSuffix(string(data), "\n")
		e.source[name] = p
	}
	return e, nil
}

// Get returns a variable's value ("" when unset).
func (e Env) Get(name string) string { return e.vars[name] }

// Lookup returns a variable's value and whether it is set.
func (e Env) Lookup(name string) (string, bool) {
	v, ok := e.vars[name]
	return v, ok
}

// Source says where a variable came from (an ENV_DIR file or the
// environment), for messages.
func (e Env) Source(name string) string { return e.source[name] }
