// Package addon maps the backing services a platform provides into the
// variables Hop3's addons give an app (DATABASE_URL and PG* for postgres,
// REDIS_URL and REDIS_* for redis, DATABASE_URL and MYSQL_* for mysql), at
// launch: from a CNB service binding ($SERVICE_BINDING_ROOT, the
// servicebinding.io well-known entries) or from the URL variable a
// Heroku-style platform sets. A variable the platform set is never
// replaced.
package addon

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Kind is one kind of backing service Hop3 provides as an addon.
type Kind struct {
	// Name is Hop3's addon type (postgres, redis, mysql).
	Name string
	// BindingTypes are the servicebinding.io type values that provide it.
	BindingTypes []string
	// URLVar is the variable holding the service's URL (DATABASE_URL,
	// REDIS_URL): what a Heroku-style platform sets.
	URLVar string
	// Schemes are the URL schemes of URLVar this kind accepts; the first
	// is used to write a URL.
	Schemes []string
	// Vars are the variables the app gets, in Hop3's order: URLVar first.
	Vars []string
	// DefaultPort is the port when the service names none.
	DefaultPort string
	// vars computes the variables from a service's parts.
	vars func(s Service) map[string]string
}

// Service is what a platform says about one service instance.
type Service struct {
	Host, Port, Username, Password, Database string
	// URI is the service's URL, when given.
	URI string
}

var kinds = []Kind{
	{Name: "postgres", BindingTypes: []string{"postgresql", "postgres"}, URLVar: "DATABASE_URL", Schemes: []string{"postgresql", "postgres"},
		Vars: []string{"DATABASE_URL", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGHOST", "PGPORT"}, DefaultPort: "5432",
		vars: func(s Service) map[string]string {
			return map[string]string{"PGDATABASE": s.Database, "PGUSER": s.Username, "PGPASSWORD": s.Password, "PGHOST": s.Host, "PGPORT": s.Port}
		}},
	{Name: "mysql", BindingTypes: []string{"mysql", "mariadb"}, URLVar: "DATABASE_URL", Schemes: []string{"mysql", "mariadb"},
		Vars: []string{"DATABASE_URL", "MYSQL_DATABASE", "MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_HOST", "MYSQL_PORT"}, DefaultPort: "3306",
		vars: func(s Service) map[string]string {
			return map[string]string{"MYSQL_DATABASE": s.Database, "MYSQL_USER": s.Username, "MYSQL_PASSWORD": s.Password, "MYSQL_HOST": s.Host, "MYSQL_PORT": s.Port}
		}},
	{Name: "redis", BindingTypes: []string{"redis"}, URLVar: "REDIS_URL", Schemes: []string{"redis", "rediss"},
		Vars: []string{"REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD"}, DefaultPort: "6379",
		vars: func(s Service) map[string]string {
			db := s.Database
			if db == "" {
				db = "0"
			}
			v := map[string]string{"REDIS_HOST": s.Host, "REDIS_PORT": s.Port, "REDIS_DB": db}
			if s.Password != "" {
				v["REDIS_PASSWORD"] = s.Password // Hop3 sets it only when there is one
			}
			return v
		}},
}

// aliases are the addon types hop3.toml may name for each kind.
var aliases = map[string]string{"postgres": "postgres", "postgresql": "postgres", "pg": "postgres",
	"mysql": "mysql", "mariadb": "mysql", "redis": "redis"}

// Lookup is the kind of an addon type as hop3.toml writes it.
func Lookup(typ string) (Kind, bool) {
	name, ok := aliases[strings.ToLower(strings.TrimSpace(typ))]
	if !ok {
		return Kind{}, false
	}
	for _, k := range kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Prefix is the variables' prefix of a non-primary addon (a second addon of
// a type), as Hop3's addon_var_prefix makes it: the name upper-cased, '-'
// as '_', then '_'.
func Prefix(name string) string {
	return strings.ReplaceAll(strings.ToUpper(name), "-", "_") + "_"
}

// Variables are the app's variables for service s of kind k: its URL
// (URI, or one made from the parts) and the parts (from the URL where the
// entries lack them; the default port when none is named).
func (k Kind) Variables(s Service) (map[string]string, error) {
	if s.URI != "" {
		u, err := url.Parse(s.URI)
		if err != nil || !k.scheme(u.Scheme) {
			return nil, fmt.Errorf("%s URL is not a %s URL (%s://...)", k.Name, k.Name, strings.Join(k.Schemes, ":// or "))
		}
		fromURL(&s, u)
	}
	if s.Port == "" {
		s.Port = k.DefaultPort
	}
	if s.Host == "" {
		return nil, fmt.Errorf("%s service names no host (an entry host or uri)", k.Name)
	}
	v := k.vars(s)
	v[k.URLVar] = s.URI
	if s.URI == "" {
		v[k.URLVar] = k.url(s)
	}
	for name, val := range v {
		if val == "" {
			delete(v, name)
		}
	}
	return v, nil
}

func (k Kind) scheme(s string) bool {
	for _, x := range k.Schemes {
		if strings.EqualFold(s, x) {
			return true
		}
	}
	return false
}

// url writes the service's URL from its parts.
func (k Kind) url(s Service) string {
	u := url.URL{Scheme: k.Schemes[0], Host: net.JoinHostPort(s.Host, s.Port)}
	switch {
	case s.Username != "":
		u.User = url.UserPassword(s.Username, s.Password)
	case s.Password != "":
		u.User = url.UserPassword("", s.Password) // redis://:password@host
	}
	if s.Database != "" {
		u.Path = "/" + s.Database
	}
	return u.String()
}

// fromURL fills the parts s lacks from u.
func fromURL(s *Service, u *url.URL) {
	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	set(&s.Host, u.Hostname())
	set(&s.Port, u.Port())
	if u.User != nil {
		set(&s.Username, u.User.Username())
		p, _ := u.User.Password()
		set(&s.Password, p)
	}
	set(&s.Database, strings.TrimPrefix(u.Path, "/"))
	if h := u.Query().Get("host"); h != "" {
		set(&s.Host, h) // a Unix socket directory (libpq's ?host=)
	}
}
