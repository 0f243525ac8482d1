package nixgen

import (
	"github.com/nix-buildpack/nix-buildpack/internal/nixspec"
	"path"
	"strings"
)

// wrapper is the start script every template writes to $out/bin, as Hop3's
// format_wrapper_body lays it out: prelude (raw Nix), local variables,
// exports and conditional exports, LD_LIBRARY_PATH, config files, pre-exec
// commands, then exec. Placeholders (PKGBIN, BINDIR, APPDIR, ...) are
// replaced by sed in the install phase, anywhere in the script: a pre-exec
// command may use them too, as Hop3's catalog apps do.
func wrapper(s *nixspec.Spec, prelude []string, execLine string) string {
	parts := []string{"#!/bin/sh", "set -e"}
	if p := strings.Join(nonEmpty(prelude), "\n\n"); p != "" {
		parts = append(parts, p)
	}
	if len(s.LocalVars) > 0 {
		var l []string
		for _, kv := range s.LocalVars {
			l = append(l, kv.Key+`="`+shell(kv.Value)+`"`)
		}
		parts = append(parts, strings.Join(l, "\n"))
	}
	if e := exports(s); e != "" {
		parts = append(parts, e)
	}
	if len(s.RuntimeLibs) > 0 {
		parts = append(parts, `export LD_LIBRARY_PATH="`+libPath(s)+`:''${LD_LIBRARY_PATH:-}"`)
	}
	for _, cf := range s.ConfigFiles {
		parts = append(parts, configScript(cf))
	}
	if len(s.PreExec) > 0 {
		var l []string
		for _, c := range s.PreExec {
			l = append(l, shell(c))
		}
		parts = append(parts, strings.Join(l, "\n"))
	}
	return strings.Join(append(parts, "exec "+shell(execLine)), "\n\n")
}

func exports(s *nixspec.Spec) string {
	var l []string
	for _, kv := range s.EnvExports {
		l = append(l, "export "+kv.Key+`="`+shell(kv.Value)+`"`)
	}
	for _, c := range s.ConditionalEnv {
		if len(l) > 0 {
			l = append(l, "")
		}
		l = append(l, "# "+c.Name+" unless "+c.If+" is set",
			`if [ -z "$`+c.If+`" ]; then`,
			`  export `+c.Name+`="`+shell(c.Value)+`"`,
			"fi")
	}
	return strings.Join(l, "\n")
}

// libPath is nix-runtime-libs as a library path, Nix-interpolated.
func libPath(s *nixspec.Spec) string {
	var l []string
	for _, p := range s.RuntimeLibs {
		l = append(l, "${pkgs."+p+"}/lib")
	}
	return strings.Join(l, ":")
}

// script writes the file at start through an unquoted heredoc, so ${VAR}
// and $(cmd) expand then; backticks are made literal, as Hop3 does.
func configScript(cf nixspec.ConfigFile) string {
	var body string
	if cf.Format == "ini" {
		var b strings.Builder
		for _, sec := range cf.Sections {
			b.WriteString("[" + sec.Name + "]\n")
			for _, kv := range sec.Keys {
				b.WriteString(kv.Key + " = " + kv.Value + "\n")
			}
			b.WriteString("\n")
		}
		body = strings.TrimRight(b.String(), " \t\r\n") + "\n"
	} else {
		body = strings.TrimRight(cf.Raw, "\n") + "\n"
	}
	body = shell(strings.ReplaceAll(body, "`", "\\`"))
	doc := "cat > " + cf.Path + " << EOF\n" + body + "EOF"
	if dir := path.Dir(cf.Path); dir != "." && dir != "/" {
		doc = "mkdir -p " + dir + "\n" + doc
	}
	if cf.CreateIfMissing {
		return "if [ ! -f " + cf.Path + " ]; then\n" + doc + "\nfi"
	}
	return doc
}

// writableHome copies source (a store path or a placeholder) into
// $PWD/.<pname>-home once per app instance, then makes it writable.
func writableHome(s *nixspec.Spec, source string, cd bool) string {
	l := []string{
		`HOME_DIR="$PWD/.` + s.Pname + `-home"`,
		`if [ ! -f "$HOME_DIR/.hop3-ready" ]; then`,
		`  rm -rf "$HOME_DIR"`,
		`  cp -rL --no-preserve=ownership ` + source + `/. "$HOME_DIR"`,
		`  chmod -R u+w "$HOME_DIR"`,
		`  touch "$HOME_DIR/.hop3-ready"`,
		`fi`,
	}
	if s.WritableHomeEnvVar != "" {
		l = append(l, `export `+s.WritableHomeEnvVar+`="$HOME_DIR"`)
	}
	if cd {
		l = append(l, `cd "$HOME_DIR"`)
	}
	return strings.Join(l, "\n")
}

func nonEmpty(l []string) []string {
	var out []string
	for _, s := range l {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
