package addon_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/addon"
)

// binding writes a service binding directory under root, as a platform
// mounts one (a file per entry).
func binding(t *testing.T, root, name string, entries map[string]string) {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range entries {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolve(t *testing.T) {
	pg := map[string]string{"type": "postgresql", "host": "db.internal", "port": "6543", "username": "app", "password": "s3cr/t@", "database": "appdb"}
	tests := []struct {
		name     string
		addons   []string
		bindings map[string]map[string]string
		env      map[string]string
		want     map[string]string
		report   []string
		err      string
	}{
		{name: "postgres binding", addons: []string{"postgres"}, bindings: map[string]map[string]string{"db": pg},
			want: map[string]string{"DATABASE_URL": "postgresql://app:s3cr%2Ft%40@db.internal:6543/appdb", "PGHOST": "db.internal", "PGPORT": "6543",
				"PGUSER": "app", "PGPASSWORD": "s3cr/t@", "PGDATABASE": "appdb"},
			report: []string{"addon postgres: DATABASE_URL, PGDATABASE, PGUSER, PGPASSWORD, PGHOST, PGPORT from the service binding ROOT/db (type postgresql)"}},
		{name: "binding with only a uri, default port", addons: []string{"postgresql"},
			bindings: map[string]map[string]string{"pg": {"type": "postgresql", "uri": "postgres://u:p@h/d?sslmode=require"}},
			want: map[string]string{"DATABASE_URL": "postgres://u:p@h/d?sslmode=require", "PGHOST": "h", "PGPORT": "5432", "PGUSER": "u",
				"PGPASSWORD": "p", "PGDATABASE": "d"}},
		{name: "the platform's DATABASE_URL wins over a binding; set variables are kept", addons: []string{"postgres"},
			bindings: map[string]map[string]string{"db": pg},
			env:      map[string]string{"DATABASE_URL": "postgres://hu:hp@ec2-1:5432/heroku", "PGHOST": "pgbouncer"},
			want:     map[string]string{"PGPORT": "5432", "PGUSER": "hu", "PGPASSWORD": "hp", "PGDATABASE": "heroku"},
			report: []string{"addon postgres: PGDATABASE, PGUSER, PGPASSWORD, PGPORT from DATABASE_URL (set by the platform); " +
				"kept as the platform set them: DATABASE_URL, PGHOST"}},
		{name: "redis binding without password, a second redis by name", addons: []string{"redis", "redis:cache"},
			bindings: map[string]map[string]string{"r1": {"type": "redis", "host": "r1", "port": "6380"},
				"cache": {"type": "redis", "uri": "rediss://:pw@cache:6390/3"}},
			want: map[string]string{"REDIS_URL": "redis://r1:6380", "REDIS_HOST": "r1", "REDIS_PORT": "6380", "REDIS_DB": "0",
				"CACHE_REDIS_URL": "rediss://:pw@cache:6390/3", "CACHE_REDIS_HOST": "cache", "CACHE_REDIS_PORT": "6390", "CACHE_REDIS_DB": "3",
				"CACHE_REDIS_PASSWORD": "pw"}},
		{name: "Heroku's REDIS_URL", addons: []string{"redis"}, env: map[string]string{"REDIS_URL": "redis://h:p@ec2:7000"},
			want: map[string]string{"REDIS_HOST": "ec2", "REDIS_PORT": "7000", "REDIS_DB": "0", "REDIS_PASSWORD": "p"}},
		{name: "mysql binding", addons: []string{"mysql"},
			bindings: map[string]map[string]string{"m": {"type": "mysql", "host": "m", "username": "u", "password": "p", "database": "d"}},
			want: map[string]string{"DATABASE_URL": "mysql://u:p@m:3306/d", "MYSQL_HOST": "m", "MYSQL_PORT": "3306", "MYSQL_USER": "u",
				"MYSQL_PASSWORD": "p", "MYSQL_DATABASE": "d"}},
		{name: "nothing provides it: a warning, nothing set", addons: []string{"postgres"},
			bindings: map[string]map[string]string{"r": {"type": "redis", "host": "r"}}, want: map[string]string{},
			report: []string{"addon postgres: warning: no service binding of type postgresql or postgres under ROOT and DATABASE_URL is not set"}},
		{name: "a DATABASE_URL of another kind is not derived from", addons: []string{"postgres"},
			env: map[string]string{"DATABASE_URL": "mysql://u:p@h/d"}, want: map[string]string{},
			report: []string{"addon postgres: warning: DATABASE_URL is set but is not a postgres URL"}},
		{name: "two postgres bindings, no name", addons: []string{"postgres"},
			bindings: map[string]map[string]string{"a": pg, "b": pg}, err: "addon postgres: several service bindings of type postgresql (ROOT/a, ROOT/b)"},
		{name: "binding without host", addons: []string{"postgres"},
			bindings: map[string]map[string]string{"a": {"type": "postgresql", "username": "u"}}, err: "addon postgres: service binding ROOT/a: postgres service names no host"},
		{name: "binding uri of another kind", addons: []string{"redis"},
			bindings: map[string]map[string]string{"a": {"type": "redis", "uri": "http://x"}}, err: "redis URL is not a redis URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, e := range tt.bindings {
				binding(t, root, name, e)
			}
			// A Kubernetes-style hidden entry and a binding without type are skipped.
			if err := os.MkdirAll(filepath.Join(root, "..data"), 0o755); err != nil {
				t.Fatal(err)
			}
			binding(t, root, "untyped", map[string]string{"host": "x"})
			decl, err := addon.ParseDeclared(tt.addons)
			if err != nil {
				t.Fatal(err)
			}
			bs, err := addon.ReadBindings(root)
			if err != nil {
				t.Fatal(err)
			}
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			got, report, err := addon.Resolve(decl, lookup, bs, root)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), strings.ReplaceAll(tt.err, "ROOT", root)) {
					t.Fatalf("Resolve() error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Resolve() =\n%v\nwant\n%v", got, tt.want)
			}
			all := strings.Join(report, "\n")
			for _, r := range tt.report {
				if !strings.Contains(all, strings.ReplaceAll(r, "ROOT", root)) {
					t.Errorf("report lacks %q:\n%s", r, all)
				}
			}
			for _, secret := range []string{"s3cr", ":pw@", "hp", "pw"} {
				if strings.Contains(all, secret) {
					t.Errorf("report shows the secret %q:\n%s", secret, all)
				}
			}
		})
	}
}

func TestParseDeclared(t *testing.T) {
	for _, tt := range []struct {
		in  []string
		err string
	}{
		{in: []string{"postgres", "postgres:replica", "redis"}},
		{in: []string{"mongodb"}, err: `unknown addon type "mongodb"`},
		{in: []string{"redis", "redis"}, err: "a second redis addon needs a name"},
	} {
		_, err := addon.ParseDeclared(tt.in)
		if (tt.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseDeclared(%v) = %v, want %q", tt.in, err, tt.err)
		}
	}
}
