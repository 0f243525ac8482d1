package nixgen

import (
	"fmt"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixspec"
)

// phpApp serves a PHP app with php -S (or artisan serve, or a custom
// command): a release tarball, a single file, or a composer project built
// with buildComposerProject.
func phpApp(e *expr) error {
	s := e.s
	if err := checkArchive(s); err != nil {
		return err
	}
	src := s.Pname + "-src"
	e.version()
	php := "pkgs." + s.Str("php-version", "php82")
	if exts := s.List("php-extensions"); len(exts) > 0 {
		php += ".withExtensions ({ enabled, all }: enabled ++ [\n    all." + strings.Join(exts, "\n    all.") + "\n  ])"
	}
	e.let("  php = %s;", php)
	if err := e.fetch(src); err != nil {
		return err
	}
	attrs, install, err := phpSource(e, src)
	if err != nil {
		return err
	}
	dirs := s.List("post-install-dirs")
	if len(dirs) > 0 {
		install += "      mkdir -p $out/app/" + strings.Join(dirs, " $out/app/") + "\n"
	}
	for _, f := range s.List("install-files") {
		install += "      install -D ${./" + f + "} $out/app/" + f + "\n"
	}
	writable := s.Flag("needs-writable-dir", false)
	var prelude []string
	tree := ""
	if writable {
		// Hop3 copies the tree into the app's directory at deploy time
		// (runtime.json writable_tree); a buildpack has no deploy step, so
		// the wrapper copies it at the first start.
		tree = "$out/app"
		prelude = append(prelude, "if [ ! -f .hop3-tree-ready ]; then\n  cp -a APPDIR/. .\n  chmod -R u+w .\n  touch .hop3-tree-ready\nfi")
		if len(dirs) > 0 {
			prelude = append(prelude, "mkdir -p "+strings.Join(dirs, " "))
		}
	}
	line, err := phpExec(s, writable)
	if err != nil {
		return err
	}
	e.env = e.runtimeEnv()
	install += "\n" + install2(s.Pname, wrapper(s, prelude, line)) + e.runtimeJSON("$out/bin/"+s.Pname, tree)
	e.app = e.mkDerivation(attrs, install)
	return nil
}

// phpSource is how the app's files reach $out/app: the derivation's
// attributes and the start of its install phase, for a composer project,
// a single file or an unpacked archive.
func phpSource(e *expr, src string) (attrs, install string, err error) {
	s := e.s
	var native []string
	if s.Archive == "zip" {
		native = append(native, "pkgs.unzip")
	}
	native = append(native, s.List("extra-native-build-inputs")...)
	attrs = "    src = " + src + ";"
	if len(native) > 0 {
		attrs += "\n    nativeBuildInputs = [ " + strings.Join(native, " ") + " ];"
	}
	install = "      mkdir -p $out/app $out/bin $out/hop3\n\n"
	switch {
	case s.Flag("needs-composer", false):
		if err := composerProject(e, src); err != nil {
			return "", "", err
		}
		attrs += "\n    dontUnpack = true;\n    dontBuild = true;"
		install += "      cp -r ${composerProject}/share/php/" + s.Pname + "/. $out/app/\n      chmod -R u+w $out/app\n"
	case s.Flag("single-file", false):
		attrs += "\n    dontUnpack = true;\n    dontBuild = true;"
		install += "      cp $src $out/app/index.php\n"
	case s.Archive == "":
		return "", "", s.Errorf("nix", "php-app fetches an archive unless single-file or needs-composer is set: set [nix] archive (e.g. \"tar-gz\")")
	default:
		attrs += "\n    unpackPhase = ''\n      " + unpack(s) + "\n    '';\n    dontBuild = true;"
		if !s.Flag("skip-source-copy", false) {
			from := "."
			if s.SourceRoot != "" {
				from = s.SourceRoot + "/."
			}
			install += "      cp -r " + from + " $out/app/\n"
		}
	}
	return attrs, install, nil
}

// composerProject binds composerProject, the app built with
// buildComposerProject from src.
func composerProject(e *expr, src string) error {
	s := e.s
	hash := s.Str("composer-deps-hash", "")
	if hash == "" {
		return s.Errorf("nix", "php-app with needs-composer needs [nix] composer-deps-hash: buildComposerProject's vendorHash; "+
			"build once with \"sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\" and copy the `got:` hash")
	}
	opt := ""
	if s.SourceRoot != "" {
		opt += "\n    sourceRoot = " + quoteRaw(s.SourceRoot) + ";"
	}
	if s.Archive == "zip" {
		opt += "\n    nativeBuildInputs = [ pkgs.unzip ];"
	}
	if !s.Flag("composer-strict-validation", true) {
		opt += "\n    composerStrictValidation = false;"
	}
	e.let("  composerProject = pkgs.%s.buildComposerProject {\n    pname = %s;\n    inherit version;\n    src = %s;%s\n"+
		"    vendorHash = %s;\n    composerNoDev = true;\n  };", s.Str("php-version", "php82"), quote(s.Pname), src, opt, quoteRaw(hash))
	return nil
}

func install2(name, body string) string {
	return install(name, body, sed{"APPDIR", "$out/app"}, sed{"PHPBIN", "${php}/bin"})
}

// phpExec is the wrapper's exec line for serve-mode.
func phpExec(s *nixspec.Spec, writable bool) (string, error) {
	web := s.Str("web-root", "")
	root := "APPDIR"
	switch {
	case writable && web != "":
		root = "./" + web
	case writable:
		root = "."
	case web != "":
		root = "APPDIR/" + web
	}
	switch mode := s.Str("serve-mode", "builtin"); mode {
	case "builtin":
		return "PHPBIN/php -S 0.0.0.0:${PORT:-8080} -t " + root, nil
	case "artisan":
		artisan := "APPDIR/artisan"
		if writable {
			artisan = "./artisan"
		}
		return "PHPBIN/php " + artisan + " serve --host=0.0.0.0 --port=${PORT:-8080}", nil
	case "custom":
		if s.ExecTarget == "" {
			return "", s.Errorf("nix.serve-mode", "php-app with serve-mode = \"custom\" needs [nix] exec-target: the command to exec")
		}
		return s.ExecTarget, nil
	default:
		return "", s.Errorf("nix.serve-mode", "[nix] serve-mode %q is not one of builtin, artisan, custom", mode)
	}
}

// nodePnpmInstall installs an npm package from the committed manifest and
// pnpm lockfile: a fixed-output derivation fetches the pnpm store, the app
// installs from it offline.
func nodePnpmInstall(e *expr) error {
	s := e.s
	pkg, manifest, lock, hash := s.Str("npm-package", ""), s.Str("node-manifest", ""), s.Str("node-lockfile", ""), s.Str("node-deps-hash", "")
	switch {
	case pkg == "":
		return s.Errorf("nix", "the node-pnpm-install template needs [nix] npm-package: the package to install (e.g. \"directus\")")
	case s.Version == "":
		return s.Errorf("nix", "the node-pnpm-install template needs a version ([metadata] version): the pinned npm version")
	case manifest == "" || lock == "":
		return s.Errorf("nix", "the node-pnpm-install template needs [nix] node-manifest and node-lockfile: the committed package.json and pnpm-lock.yaml")
	case hash == "":
		return s.Errorf("nix", "the node-pnpm-install template needs [nix] node-deps-hash: the sha256 of the fetched pnpm store; "+
			"build once with \"sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\" and copy the `got:` hash")
	}
	e.let("  nodejs = pkgs.%s;", orDefault(s.RuntimePackage, "nodejs_22"))
	e.let("  pnpm = pkgs.%s;", s.Str("node-pnpm-package", "pnpm_9"))
	e.version()
	e.let("  manifest = ./%s;\n  lockfile = ./%s;", manifest, lock)
	e.let("  pnpmStore = pkgs.stdenv.mkDerivation {\n    pname = %s;\n    inherit version;\n    dontUnpack = true;\n    dontBuild = true;\n"+
		"    dontFixup = true;\n    nativeBuildInputs = [ nodejs pnpm ];\n    installPhase = ''\n      export HOME=$TMPDIR\n"+
		"      export SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt\n      export NODE_EXTRA_CA_CERTS=$SSL_CERT_FILE\n"+
		"      mkdir -p $TMPDIR/proj && cd $TMPDIR/proj\n      cp ${manifest} package.json\n      cp ${lockfile} pnpm-lock.yaml\n"+
		"      mkdir -p $out\n      ${pnpm}/bin/pnpm fetch --store-dir $out\n"+
		"      # pnpm stamps checkedAt times and unstable key order into the store's index: normalise, as fetchDeps does.\n"+
		"      rm -rf $out/v3/tmp $out/v10/tmp\n      find $out -name '*.json' -type f | while read -r f; do\n"+
		"        ${pkgs.jq}/bin/jq --sort-keys 'del(.. | .checkedAt?)' \"$f\" > \"$f.norm\"\n        mv \"$f.norm\" \"$f\"\n      done\n    '';\n"+
		"    outputHashMode = \"recursive\";\n    outputHashAlgo = \"sha256\";\n    outputHash = %s;\n  };", quote(s.Pname+"-pnpm-store"), quoteRaw(hash))
	e.env = e.runtimeEnv()
	native, rebuild := "", ""
	if l := s.List("node-native-packages"); len(l) > 0 {
		native = " pkgs.python3 pkgs.gnumake pkgs.gcc"
		rebuild = "      export npm_config_nodedir=${nodejs}\n      export CI=true\n      ${pnpm}/bin/pnpm rebuild --store-dir ${pnpmStore} " +
			strings.Join(l, " ") + "\n"
	}
	body := wrapper(s, nil, "$APPDIR/node_modules/.bin/"+s.ExecTarget+execArgs(s))
	first, rest, _ := strings.Cut(body, "\n")
	body = first + "\n\nexport PATH=\"NODEBIN:''${PATH}\"\nAPPDIR=\"APPDIR_PLACEHOLDER\"\nexport APPDIR\n" + rest
	phase := "      mkdir -p $out/app $out/bin $out/hop3\n      cd $out/app\n      export HOME=$TMPDIR\n" +
		"      cp ${manifest} package.json\n      cp ${lockfile} pnpm-lock.yaml\n" +
		"      ${pnpm}/bin/pnpm install --offline --frozen-lockfile --ignore-scripts --store-dir ${pnpmStore} \\\n" +
		"        --config.confirmModulesPurge=false --config.package-import-method=copy --prod --reporter=silent\n" + rebuild +
		"      if [ -f node_modules/.modules.yaml ]; then sed -i '/^prunedAt:/d' node_modules/.modules.yaml; fi\n" +
		install(s.Pname, body, sed{"APPDIR_PLACEHOLDER", "$out/app"}, sed{"NODEBIN", "${nodejs}/bin"}) +
		e.runtimeJSON("$out/bin/"+s.Pname, "")
	e.app = e.mkDerivation(fmt.Sprintf("    dontUnpack = true;\n    dontBuild = true;\n    nativeBuildInputs = [ nodejs pnpm%s ];", native), phase)
	return nil
}

// javaGradle compiles a jar with Gradle, its dependencies pinned by the
// committed deps.json (gradle.fetchDeps' mitm cache), and runs it.
func javaGradle(e *expr) error {
	s := e.s
	glob, name := s.Str("gradle-jar-glob", ""), s.Str("gradle-jar-name", "")
	if glob == "" || name == "" {
		return s.Errorf("nix", "the java-gradle template needs [nix] gradle-jar-glob (the built jar, e.g. \"build/libs/App-*.jar\") and gradle-jar-name (its installed name)")
	}
	src := binding(s.Pname) + "_src"
	e.version()
	e.let("  jre = pkgs.%s;", orDefault(s.RuntimePackage, "jre"))
	if err := e.fetch(src); err != nil {
		return err
	}
	opt := ""
	if l := s.List("gradle-patches"); len(l) > 0 {
		opt += "\n    patches = [ ./" + strings.Join(l, " ./") + " ];"
	}
	if l := s.List("gradle-flags"); len(l) > 0 {
		opt += "\n    gradleFlags = " + nixList(l) + ";"
	}
	e.let("  jar = pkgs.stdenv.mkDerivation (finalAttrs: {\n    pname = %s;\n    inherit version;\n    src = %s;%s\n"+
		"    mitmCache = pkgs.gradle.fetchDeps {\n      inherit (finalAttrs) pname;\n      data = ./%s;\n    };\n"+
		"    __darwinAllowLocalNetworking = true;\n    doCheck = false;\n    nativeBuildInputs = [ pkgs.gradle pkgs.gradle.jdk ];\n"+
		"    installPhase = ''\n      install -Dm644 %s $out/%s\n    '';\n  });", quote(s.Pname), src, opt, s.Str("gradle-deps-json", "deps.json"), glob, name)
	e.env = e.runtimeEnv()
	phase := "      mkdir -p $out/bin $out/hop3\n" +
		install(s.Pname, wrapper(s, nil, "JAVABIN/java $JAVA_OPTS -jar JARPATH"+execArgs(s)),
			sed{"JAVABIN", "${jre}/bin"}, sed{"JARPATH", "${jar}/" + name}) +
		e.runtimeJSON("$out/bin/"+s.Pname, "")
	e.app = e.mkDerivation("    dontUnpack = true;\n    dontBuild = true;", phase)
	return nil
}
