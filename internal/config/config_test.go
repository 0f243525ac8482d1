package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    string // NixFile
		notNix  bool
		errWant string
	}{
		{name: "hop3.nix", files: map[string]string{"hop3.nix": "{}"}, want: "hop3.nix"},
		{name: "default.nix", files: map[string]string{"default.nix": "{}"}, want: "default.nix"},
		{name: "hop3.nix wins over default.nix", files: map[string]string{"hop3.nix": "", "default.nix": ""}, want: "hop3.nix"},
		{name: "nothing", files: map[string]string{"index.html": ""}, notNix: true},
		{name: "builder nix with file", files: map[string]string{
			"hop3.toml": "[build]\nbuilder = \"nix\"\n[build.nix]\nfile = \"nix/app.nix\"\n", "nix/app.nix": "{}"}, want: "nix/app.nix"},
		{name: "method nix (ADR 006) with file", files: map[string]string{
			"hop3.toml": "[build]\nmethod = \"nix\"\n\n[build.nix]\nfile = \"app.nix\"\n", "app.nix": "{}"}, want: "app.nix"},
		{name: "dotted keys", files: map[string]string{
			"hop3.toml": "build.builder = \"nix\"\nbuild.nix.file = \"app.nix\"\n", "app.nix": "{}"}, want: "app.nix"},
		{name: "nix selected, hop3.nix present", files: map[string]string{
			"hop3.toml": "[build]\nbuilder = \"nix\"\n", "hop3.nix": "{}"}, want: "hop3.nix"},
		{name: "another builder wins over hop3.nix", files: map[string]string{
			"hop3.toml": "[build]\nbuilder = \"dockerfile\"\n", "hop3.nix": "{}"}, notNix: true},
		{name: "hop3.toml without build section", files: map[string]string{
			"hop3.toml": "[app]\nname = \"x\"\n", "hop3.nix": "{}"}, want: "hop3.nix"},
		{name: "nix selected, no file anywhere", files: map[string]string{
			"hop3.toml": "[app]\nname = \"x\"\n[build]\nbuilder = \"nix\"\n"},
			errWant: "hop3.toml:4: [build] selects nix but [build.nix] file is not set and hop3.nix does not exist"},
		{name: "syntax error", files: map[string]string{
			"hop3.toml": "[build]\nbuilder = \"nix\n"},
			errWant: "hop3.toml:2: invalid TOML"},
		{name: "file is an integer", files: map[string]string{
			"hop3.toml": "[build]\nbuilder = \"nix\"\n\n[build.nix]\nfile = 7\n"},
			errWant: "hop3.toml:5: [build.nix] file must be a non-empty string, got integer"},
		{name: "builder is a boolean", files: map[string]string{
			"hop3.toml": "[build]\nbuilder = true\n"},
			errWant: "hop3.toml:2: [build] builder must be a string, got boolean"},
		{name: "build is not a table", files: map[string]string{
			"hop3.toml": "build = \"nix\"\n"},
			errWant: "hop3.toml:1: build must be a table, got string"},
		{name: "file does not exist", files: map[string]string{
			"hop3.toml": "[build.nix]\nfile = \"missing.nix\"\n"},
			errWant: "hop3.toml:2: [build.nix] file = \"missing.nix\" does not exist in the app"},
		{name: "hop3/hop3.toml is read first", files: map[string]string{
			"hop3/hop3.toml": "[build.nix]\nfile = \"a.nix\"\n", "hop3.toml": "[build.nix]\nfile = \"b.nix\"\n", "a.nix": "", "b.nix": ""},
			want: "a.nix"},
		{name: "hop3/hop3.toml selecting another builder", files: map[string]string{
			"hop3/hop3.toml": "[build]\nbuilder = \"docker\"\n", "hop3.nix": "{}"}, notNix: true},
		{name: "errors name hop3/hop3.toml", files: map[string]string{
			"hop3/hop3.toml": "[build]\nbuilder = \"nix\"\n\n[build.nix]\nfile = \"missing.nix\"\n"},
			errWant: `hop3/hop3.toml:5: [build.nix] file = "missing.nix" does not exist in the app`},
		{name: "type errors name hop3/hop3.toml", files: map[string]string{
			"hop3/hop3.toml": "[build]\nbuilder = true\n"},
			errWant: "hop3/hop3.toml:2: [build] builder must be a string, got boolean"},
		{name: "file is a directory", files: map[string]string{
			"hop3.toml": "[build.nix]\nfile = \".\"\n"},
			errWant: `hop3.toml:2: [build.nix] file = "." is a directory, not a Nix expression`},
		{name: "builder and method conflict", files: map[string]string{
			"hop3.toml": "[build]\nbuilder = \"docker\"\nmethod = \"nix\"\n", "hop3.nix": "{}"},
			errWant: `hop3.toml:3: [build] builder and method conflict: one says "docker", the other "nix"`},
		{name: "builder and method agree", files: map[string]string{
			"hop3.toml": "[build]\nbuilder = \"nix\"\nmethod = \"NIX\"\n", "hop3.nix": "{}"}, want: "hop3.nix"},
		{name: "file escapes the app", files: map[string]string{
			"hop3.toml": "[build.nix]\nfile = \"../x.nix\"\n"},
			errWant: "must be a path inside the app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			app, err := config.Load(dir)
			switch {
			case tt.notNix:
				if !errors.Is(err, config.ErrNotNix) {
					t.Fatalf("Load() = %+v, %v; want ErrNotNix", app, err)
				}
			case tt.errWant != "":
				if err == nil || !strings.Contains(err.Error(), tt.errWant) {
					t.Fatalf("Load() error = %v; want it to contain %q", err, tt.errWant)
				}
			default:
				if err != nil {
					t.Fatalf("Load() error = %v", err)
				}
				if app.NixFile != tt.want || app.NixPath() != filepath.Join(dir, tt.want) {
					t.Fatalf("Load() = %+v; want NixFile %q", app, tt.want)
				}
			}
		})
	}
}
