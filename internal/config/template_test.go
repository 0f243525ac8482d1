package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
)

func TestLoadTemplate(t *testing.T) {
	tmpl := "[nix]\ntemplate = \"prebuilt-binary\"\n"
	tests := []struct {
		name  string
		files map[string]string
		want  config.App // Dir is filled in
		err   string
	}{
		{name: "template, no hop3.nix", files: map[string]string{"hop3.toml": tmpl},
			want: config.App{NixFile: config.GeneratedNix, Source: `generated from hop3.toml [nix] template = "prebuilt-binary"`,
				Template: "prebuilt-binary", TemplateKey: "hop3.toml:2 [nix] template", TOML: "hop3.toml"}},
		{name: "hop3/hop3.toml, builder nix", files: map[string]string{"hop3/hop3.toml": "[build]\nbuilder = \"nix\"\n\n" + tmpl},
			want: config.App{NixFile: config.GeneratedNix, Source: `generated from hop3/hop3.toml [nix] template = "prebuilt-binary"`,
				Template: "prebuilt-binary", TemplateKey: "hop3/hop3.toml:5 [nix] template", TOML: "hop3/hop3.toml"}},
		{name: "template beside hop3.nix", files: map[string]string{"hop3.toml": tmpl, "hop3.nix": "{}"},
			err: "hop3.toml:2: both hop3.nix and [nix] template = \"prebuilt-binary\" are present"},
		{name: "template and [build.nix] file", files: map[string]string{"hop3.toml": "[build.nix]\nfile = \"a.nix\"\n\n" + tmpl, "a.nix": "{}"},
			err: "[build.nix] file = \"a.nix\" and [nix] template = \"prebuilt-binary\" both choose the expression"},
		{name: "template not a string", files: map[string]string{"hop3.toml": "[nix]\ntemplate = true\n"},
			err: "hop3.toml:2: [nix] template must be a template name, got boolean"},
		{name: "another builder", files: map[string]string{"hop3.toml": "[build]\nbuilder = \"docker\"\n\n" + tmpl}, err: config.ErrNotNix.Error()},
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
			got, err := config.Load(dir)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Load() error = %v; want it to contain %q", err, tt.err)
				}
				if strings.Contains(tt.err, "are present") && !strings.Contains(err.Error(), "nixbp nix eject") {
					t.Fatalf("Load() error = %v; want it to name `nixbp nix eject`", err)
				}
				return
			}
			if err != nil && !errors.Is(err, config.ErrNotNix) {
				t.Fatalf("Load() error = %v", err)
			}
			tt.want.Dir = dir
			if got != tt.want {
				t.Fatalf("Load() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}
