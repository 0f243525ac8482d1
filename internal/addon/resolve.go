package addon

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Binding is one service binding: a directory under the bindings root
// holding a file per entry (servicebinding.io; the CNB platform spec).
type Binding struct {
	// Name is the directory's name; Type is its type entry.
	Name, Type string
	// Dir is the directory.
	Dir string
	// Entries are its files' contents (type included).
	Entries map[string]string
}

// service is what the binding's well-known entries say.
func (b Binding) service() Service {
	uri := b.Entries["uri"]
	if uri == "" {
		uri = b.Entries["url"]
	}
	return Service{Host: b.Entries["host"], Port: b.Entries["port"], Username: b.Entries["username"], Password: b.Entries["password"],
		Database: b.Entries["database"], URI: uri}
}

// ReadBindings reads every binding under root, sorted by name. A root that
// does not exist holds none; hidden entries (Kubernetes' ..data links) are
// skipped, and so is a directory without a type entry.
func ReadBindings(root string) ([]Binding, error) {
	if root == "" {
		return nil, nil
	}
	dirs, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to read the service bindings in %s\n%w", root, err)
	}
	var out []Binding
	for _, d := range dirs {
		dir := filepath.Join(root, d.Name())
		if strings.HasPrefix(d.Name(), ".") {
			continue
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		files, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("unable to read the service binding %s\n%w", dir, err)
		}
		b := Binding{Name: d.Name(), Dir: dir, Entries: map[string]string{}}
		for _, f := range files {
			if strings.HasPrefix(f.Name(), ".") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, f.Name()))
			if err != nil {
				if fi, serr := os.Stat(filepath.Join(dir, f.Name())); serr == nil && fi.IsDir() {
					continue
				}
				return nil, fmt.Errorf("unable to read the service binding entry %s\n%w", filepath.Join(dir, f.Name()), err)
			}
			b.Entries[f.Name()] = strings.TrimSpace(string(data))
		}
		if b.Type = strings.ToLower(b.Entries["type"]); b.Type != "" {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Declared is one addon the app declares, as the launcher is told.
type Declared struct {
	Kind Kind
	// Name is the addon's name ("" when hop3.toml gives none).
	Name string
	// Primary is the first addon of its kind: its variables are not
	// prefixed.
	Primary bool
}

// ParseDeclared reads the launcher's addon arguments, TYPE or TYPE:NAME;
// the first of each kind is the primary one, as in Hop3.
func ParseDeclared(values []string) ([]Declared, error) {
	var out []Declared
	seen := map[string]bool{}
	for _, v := range values {
		typ, name, _ := strings.Cut(v, ":")
		k, ok := Lookup(typ)
		if !ok {
			return nil, fmt.Errorf("--addon %q: unknown addon type %q (known: postgres, postgresql, mysql, mariadb, redis)", v, typ)
		}
		d := Declared{Kind: k, Name: name, Primary: !seen[k.Name]}
		if !d.Primary && name == "" {
			return nil, fmt.Errorf("--addon %q: a second %s addon needs a name (its variables are prefixed with it)", v, k.Name)
		}
		seen[k.Name] = true
		out = append(out, d)
	}
	return out, nil
}

// label names the addon in messages: "postgres" or "postgres db".
func (d Declared) label() string {
	if d.Name == "" {
		return d.Kind.Name
	}
	return d.Kind.Name + " " + d.Name
}

// prefix is "" for the primary addon, else Prefix(name).
func (d Declared) prefix() string {
	if d.Primary {
		return ""
	}
	return Prefix(d.Name)
}

// Resolve computes the variables to set for the declared addons: for each,
// from the URL variable the platform set (Heroku's DATABASE_URL, REDIS_URL),
// else from its service binding (the one named after it, or the only one of
// its type). Variables the platform set are kept. report says, per addon,
// which variables came from where (names only: values are secrets).
func Resolve(decl []Declared, lookup func(string) (string, bool), bindings []Binding, root string) (set map[string]string, report []string, err error) {
	set = map[string]string{}
	claimed := map[string]bool{}
	for _, d := range decl {
		claimed[d.Name] = d.Name != ""
	}
	for _, d := range decl {
		vars, from, err := resolveOne(d, lookup, bindings, root, claimed)
		if err != nil {
			return nil, report, fmt.Errorf("addon %s: %w", d.label(), err)
		}
		if vars == nil {
			report = append(report, fmt.Sprintf("addon %s: warning: %s", d.label(), from))
			continue
		}
		var added, kept []string
		for _, name := range d.Kind.Vars {
			v, ok := vars[name]
			if !ok {
				continue
			}
			name = d.prefix() + name
			if cur, isSet := lookup(name); isSet && cur != "" {
				kept = append(kept, name)
				continue
			}
			set[name] = v
			added = append(added, name)
		}
		line := fmt.Sprintf("addon %s: %s from %s", d.label(), strings.Join(added, ", "), from)
		if len(added) == 0 {
			line = fmt.Sprintf("addon %s: nothing to add from %s", d.label(), from)
		}
		if len(kept) > 0 {
			line += "; kept as the platform set them: " + strings.Join(kept, ", ")
		}
		report = append(report, line)
	}
	return set, report, nil
}

// resolveOne finds the service of one addon and its variables; nil vars
// with from as the reason when nothing provides it.
func resolveOne(d Declared, lookup func(string) (string, bool), bindings []Binding, root string, claimed map[string]bool) (map[string]string, string, error) {
	urlVar := d.prefix() + d.Kind.URLVar
	if u, ok := lookup(urlVar); ok && u != "" {
		if parsed, err := url.Parse(u); err != nil || !d.Kind.scheme(parsed.Scheme) {
			return nil, fmt.Sprintf("%s is set but is not a %s URL (%s://...): not derived from it", urlVar, d.Kind.Name, d.Kind.Schemes[0]), nil
		}
		vars, err := d.Kind.Variables(Service{URI: u})
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", urlVar, err)
		}
		return vars, urlVar + " (set by the platform)", nil
	}
	b, err := d.binding(bindings, claimed)
	if err != nil {
		return nil, "", err
	}
	if b == nil {
		where := "no service bindings ($SERVICE_BINDING_ROOT is not set)"
		if root != "" {
			where = "no service binding of type " + strings.Join(d.Kind.BindingTypes, " or ") + " under " + root
			if d.Name != "" {
				where += " named " + d.Name
			}
		}
		return nil, fmt.Sprintf("%s and %s is not set: the app gets none of %s", where, urlVar, strings.Join(d.Kind.Vars, ", ")), nil
	}
	vars, err := d.Kind.Variables(b.service())
	if err != nil {
		return nil, "", fmt.Errorf("service binding %s: %w", b.Dir, err)
	}
	return vars, fmt.Sprintf("the service binding %s (type %s)", b.Dir, b.Type), nil
}

// binding is the addon's service binding: the one of its type named after
// it, else for the primary addon the only one of its type that no other
// addon is named after; nil when none.
func (d Declared) binding(bindings []Binding, claimed map[string]bool) (*Binding, error) {
	var ofType []*Binding
	for i := range bindings {
		b := &bindings[i]
		for _, t := range d.Kind.BindingTypes {
			if b.Type != t {
				continue
			}
			if d.Name != "" && b.Name == d.Name {
				return b, nil
			}
			if !claimed[b.Name] {
				ofType = append(ofType, b)
			}
		}
	}
	if !d.Primary || len(ofType) == 0 {
		return nil, nil
	}
	if len(ofType) > 1 {
		var names []string
		for _, b := range ofType {
			names = append(names, b.Dir)
		}
		return nil, fmt.Errorf("several service bindings of type %s (%s) and none named after the addon: "+
			"set [[addons]] name in hop3.toml to the binding's name", ofType[0].Type, strings.Join(names, ", "))
	}
	return ofType[0], nil
}
