package nixgen

import (
	"fmt"
	"strings"
)

// goSource compiles a Go app with buildGoModule (vendorHash pins the module
// set), optionally with a JS frontend built offline in its own derivation.
func goSource(e *expr) error {
	s := e.s
	vendor := s.Str("go-vendor-hash", "")
	if vendor == "" {
		return s.Errorf("nix", "the go-source template needs [nix] go-vendor-hash: the sha256 of the vendored module set "+
			"(\"none\" for a module that requires nothing); build once with \"sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\" and copy the `got:` hash")
	}
	e.version()
	src := "./."
	if s.URL != "" {
		src = binding(s.Pname) + "_src"
		if err := e.fetch(src); err != nil {
			return err
		}
	}
	body := wrapper(s, nil, "PKGBIN/"+s.ExecTarget+execArgs(s))
	prebuild, seds := "", []sed{{"PKGBIN", "${goApp}/bin"}}
	if s.Str("go-frontend-build", "") != "" {
		var err error
		if prebuild, err = e.goFrontend(src); err != nil {
			return err
		}
		if prebuild == "" { // served from disk: the wrapper exports where
			first, rest, _ := strings.Cut(body, "\n")
			body = first + "\nexport HOP3_GO_FRONTEND=\"FRONTENDDIR\"\n" + rest
			seds = append(seds, sed{"FRONTENDDIR", "${frontend}"})
		}
	}
	builder := "pkgs.buildGoModule"
	if v := s.Str("go-version", ""); v != "" {
		builder = "(pkgs.buildGoModule.override { go = pkgs." + v + "; })"
	}
	vendorAttr := quoteRaw(vendor)
	if vendor == "none" {
		vendorAttr = "null"
	}
	var opt strings.Builder
	if s.SourceRoot != "" {
		fmt.Fprintf(&opt, "\n    sourceRoot = %s;", quoteRaw(s.SourceRoot))
	}
	if s.Flag("go-proxy-vendor", false) {
		opt.WriteString("\n    proxyVendor = true;")
	}
	if l := s.List("go-sub-packages"); len(l) > 0 {
		fmt.Fprintf(&opt, "\n    subPackages = %s;", nixList(l))
	}
	if l := s.List("go-ldflags"); len(l) > 0 {
		fmt.Fprintf(&opt, "\n    ldflags = %s;", nixList(l))
	}
	e.let("  goApp = %s {\n    pname = %s;\n    inherit version;\n    src = %s;%s\n    vendorHash = %s;%s\n    doCheck = false;\n  };",
		builder, quote(s.Pname), src, prebuild, vendorAttr, opt.String())
	// pkg: the app's own binaries, for [admin] commands through extra-paths.
	e.let("  pkg = goApp;")
	e.env = e.runtimeEnv()
	check := fmt.Sprintf("      if [ ! -x ${goApp}/bin/%[1]s ]; then\n"+
		"        echo \"[nix] exec-target '%[1]s' is not a binary of ${goApp}/bin, which has:\" >&2\n"+
		"        ls -1 ${goApp}/bin >&2\n        exit 1\n      fi\n", s.ExecTarget)
	phase := check + "      mkdir -p $out/bin $out/hop3\n" + install(s.Pname, body, seds...) + e.runtimeJSON("$out/bin/"+s.Pname, "")
	e.app = e.mkDerivation("    dontUnpack = true;\n    dontBuild = true;", phase)
	return nil
}

// goFrontend binds frontend: built with npm (buildNpmPackage, npmDepsHash)
// or pnpm (fetchDeps), its output plus go-static-dirs. It returns the
// buildGoModule preBuild that embeds it, or "" when it is served from disk.
func (e *expr) goFrontend(src string) (string, error) {
	s := e.s
	out := s.Str("go-frontend-output", "public")
	embed := s.Str("go-frontend-embed-path", "")
	inst := "mkdir -p $out\n      cp -R " + out + " $out/"
	if embed != "" {
		inst = "cp -r " + out + " $out"
	}
	for _, d := range s.List("go-static-dirs") {
		inst += "\n      cp -R " + d + " $out/"
	}
	root := ""
	if r := s.Str("go-frontend-source-root", ""); r != "" {
		root = "\n    sourceRoot = " + quoteRaw(r) + ";"
	}
	build := s.Str("go-frontend-build", "")
	if s.Flag("go-frontend-pnpm", false) {
		hash := s.Str("go-pnpm-deps-hash", "")
		if hash == "" {
			return "", s.Errorf("nix", "go-source with go-frontend-pnpm needs [nix] go-pnpm-deps-hash: the pnpm.fetchDeps hash of the frontend's dependencies")
		}
		pnpm := s.Str("go-pnpm-package", "pnpm_9")
		inherit := ""
		if root != "" {
			inherit = " sourceRoot"
		}
		e.let("  frontend = pkgs.stdenv.mkDerivation (finalAttrs: {\n    pname = %s;\n    inherit version;\n    src = %s;%s\n"+
			"    pnpmDeps = pkgs.%s.fetchDeps {\n      inherit (finalAttrs) pname version src%s;\n      hash = %s;\n    };\n"+
			"    nativeBuildInputs = [ pkgs.%s pkgs.%s.configHook ];\n    buildPhase = ''%s'';\n    installPhase = ''\n      %s\n    '';\n  });",
			quote(s.Pname+"-frontend"), src, root, pnpm, inherit, quoteRaw(hash), s.Str("go-frontend-node-package", "nodejs"), pnpm, build, inst)
	} else {
		hash := s.Str("go-npm-deps-hash", "")
		if hash == "" {
			return "", s.Errorf("nix", "go-source with go-frontend-build needs [nix] go-npm-deps-hash: the npmDepsHash of the frontend's dependencies")
		}
		e.let("  frontend = pkgs.buildNpmPackage {\n    pname = %s;\n    inherit version;\n    src = %s;%s\n    npmDepsHash = %s;\n"+
			"    dontNpmBuild = true;\n    buildPhase = ''%s'';\n    installPhase = ''\n      %s\n    '';\n  };",
			quote(s.Pname+"-frontend"), src, root, quoteRaw(hash), build, inst)
	}
	if embed != "" {
		return "\n    preBuild = ''\n      cp -r ${frontend} " + embed + "\n    '';", nil
	}
	return "", nil
}

// pythonVenv installs a hash-pinned requirements file into a venv: a
// fixed-output derivation downloads exactly the pinned files (the only step
// with network), the app installs from them offline.
func pythonVenv(e *expr) error {
	s := e.s
	req, hash := s.Str("pip-requirements", ""), s.Str("pip-deps-hash", "")
	if req == "" {
		return s.Errorf("nix", "the python-venv template needs [nix] pip-requirements: a hash-pinned lockfile in the app "+
			"(`uv export --format requirements-txt` or `pip-compile --generate-hashes`)")
	}
	if hash == "" {
		return s.Errorf("nix", "the python-venv template needs [nix] pip-deps-hash: the sha256 of the downloaded dependency set; "+
			"build once with \"sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\" and copy the `got:` hash")
	}
	e.version()
	e.let("  python = pkgs.%s;", orDefault(s.RuntimePackage, "python3"))
	e.let("  requirementsFile = ./%s;", req)
	e.let("  pythonDeps = pkgs.stdenv.mkDerivation {\n    pname = %s;\n    inherit version;\n    dontUnpack = true;\n    dontBuild = true;\n"+
		"    dontFixup = true;\n    nativeBuildInputs = [ python python.pkgs.pip ];\n    installPhase = ''\n      mkdir -p $out\n"+
		"      pip download --require-hashes --no-deps --dest $out --requirement ${requirementsFile}\n    '';\n"+
		"    outputHashMode = \"recursive\";\n    outputHashAlgo = \"sha256\";\n    outputHash = %s;\n  };", quote(s.Pname+"-python-deps"), quoteRaw(hash))
	e.env = e.runtimeEnv()
	// An sdist compiled here embeds pip's random build directory in its
	// debug sections: strip those, and keep the wheels' RECORD hashes true.
	body := "      mkdir -p $out/app $out/bin $out/venv $out/hop3\n" +
		"      ${python}/bin/python -m venv $out/venv\n" +
		"      $out/venv/bin/pip install --no-index --find-links ${pythonDeps} --require-hashes --requirement ${requirementsFile}\n" +
		"      find $out/venv -name '*.so' -type f | while read -r so; do\n" +
		"        if grep -qa '/build/pip-' \"$so\"; then ${pkgs.binutils}/bin/strip --strip-debug \"$so\"; fi\n      done\n" +
		"      $out/venv/bin/python - \"$out/venv\" << 'HOP3_RECORD'\n" + recordFix + "HOP3_RECORD\n" +
		install(s.Pname, wrapper(s, nil, "VENVBIN/"+s.ExecTarget+execArgs(s)), sed{"VENVBIN", "$out/venv/bin"}) +
		e.runtimeJSON("$out/bin/"+s.Pname, "")
	e.app = e.mkDerivation("    dontUnpack = true;\n    dontBuild = true;\n    nativeBuildInputs = [ python python.pkgs.pip ];", body)
	return nil
}

// recordFix rewrites the RECORD hash of every .so the strip changed.
const recordFix = `import base64, hashlib, pathlib, sys
for record in pathlib.Path(sys.argv[1]).rglob("RECORD"):
    site, rows, changed = record.parent.parent, [], False
    for row in record.read_text().splitlines():
        name = row.rsplit(",", 2)[0]
        f = site / name
        if name.endswith(".so") and f.is_file():
            data = f.read_bytes()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            new = "%s,sha256=%s,%d" % (name, digest, len(data))
            changed, row = changed or new != row, new
        rows.append(row)
    if changed:
        record.write_text("\n".join(rows) + "\n")
`
