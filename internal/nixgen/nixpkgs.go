package nixgen

import (
	"fmt"
	"strings"
)

// nixpkgsWrapper wraps a package nixpkgs already builds (Hop3's
// ReproTier.NIXPKGS): no source, a wrapper and runtime.json.
func nixpkgsWrapper(e *expr) error {
	s := e.s
	pkgAttr := s.Str("nixpkgs-package", "")
	if pkgAttr == "" {
		return s.Errorf("nix", "the nixpkgs-wrapper template needs [nix] nixpkgs-package: the nixpkgs attribute to wrap (e.g. \"radicale\")")
	}
	b := binding(s.Pname)
	pkgExpr := "pkgs." + pkgAttr
	if o := s.Table("nixpkgs-overrides"); len(o) > 0 {
		var l []string
		for _, kv := range o {
			l = append(l, fmt.Sprintf("    %s = %s;", attrName(kv.Key), kv.Value))
		}
		pkgExpr += ".override {\n" + strings.Join(l, "\n") + "\n  }"
	}
	e.let("  %s = %s;", b, pkgExpr)
	// pkg: a name for the wrapped package that does not change with the
	// app's id, for recipes to write ${pkg} (Hop3 binds it too).
	e.let("  pkg = %s;", b)
	for _, kv := range s.Table("let-extra") {
		e.let("  %s = %s;", attrName(kv.Key), kv.Value)
	}
	if s.Version != "" {
		e.version()
	} else {
		e.let("  version = %s.version;", b)
	}
	e.env = e.runtimeEnv()

	var prelude []string
	pkgbin := "${" + b + "}/bin"
	if s.WritableHome {
		prelude = append(prelude, writableHome(s, "${"+b+"}", false))
		pkgbin = `\$HOME_DIR/bin`
	}
	if raw := s.Table("env-exports-raw"); len(raw) > 0 {
		var l []string
		for _, kv := range raw {
			l = append(l, "export "+kv.Key+`="`+kv.Value+`"`)
		}
		prelude = append(prelude, strings.Join(l, "\n"))
	}
	pkgbin = orDefault(s.Str("exec-prefix", ""), pkgbin)
	body := "      mkdir -p $out/bin $out/hop3\n" +
		install(s.Pname, wrapper(s, prelude, "PKGBIN/"+s.ExecTarget+execArgs(s)),
			sed{"PKGBIN", pkgbin}, sed{"PKGOUT", "${" + b + "}"})
	if extra := s.Str("install-extra", ""); extra != "" {
		body += "\n      # [nix] install-extra\n" + extra + "\n"
	}
	body += e.runtimeJSON("$out/bin/"+s.Pname, "")
	e.app = e.mkDerivation("    dontUnpack = true;\n    dontBuild = true;", body)
	return nil
}

// rubyBundler builds the gem set from the committed Gemfile, Gemfile.lock
// and gemset.nix (bundix) with bundlerEnv, and installs the app: a fetched
// release when [nix] url is set, else the app's own directory.
func rubyBundler(e *expr) error {
	s := e.s
	e.let("  ruby = pkgs.%s;", orDefault(s.RuntimePackage, "ruby_3_3"))
	e.version()
	src, gemfiles := "./.", ""
	if s.URL != "" {
		src = binding(s.Pname) + "_src"
		if err := e.fetch(src); err != nil {
			return err
		}
		// The gems were resolved from the recipe's Gemfile pair: install it
		// over the release's, or bundler refuses to boot.
		gemfiles = "\n      cp ${./Gemfile} $out/app/Gemfile\n      cp ${./Gemfile.lock} $out/app/Gemfile.lock"
	}
	e.let("  gems = pkgs.bundlerEnv {\n    name = %s;\n    inherit ruby;\n    gemdir = ./.;\n  };", quote(s.Pname+"-gems"))
	e.env = e.runtimeEnv()
	var prelude []string
	if s.WritableHome {
		prelude = append(prelude, writableHome(s, "APPDIR", true))
	}
	prelude = append(prelude, `export PATH="GEMSBIN:$PATH"`)
	body := "      mkdir -p $out/app $out/bin $out/hop3\n      cp -r . $out/app/" + gemfiles + "\n\n" +
		install(s.Pname, wrapper(s, prelude, "GEMSBIN/"+s.ExecTarget+execArgs(s)),
			sed{"GEMSBIN", "${gems}/bin"}, sed{"APPDIR", "$out/app"}) +
		e.runtimeJSON("$out/bin/"+s.Pname, "")
	e.app = e.mkDerivation("    src = "+src+";\n    buildInputs = [ ruby gems ];\n    dontConfigure = true;\n    dontBuild = true;", body)
	return nil
}
