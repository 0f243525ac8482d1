package nixgen

import (
	"fmt"
	"github.com/nix-buildpack/nix-buildpack/internal/nixspec"
	"strings"
)

// The templates that fetch an upstream release by sha256 (Hop3's
// ReproTier.PREBUILT): a binary, an archive, a Node tarball, a WAR.

var archives = map[string]string{"tar-gz": "z", "tar-bz2": "j", "tar-xz": "J", "zip": ""}

func checkArchive(s *nixspec.Spec) error {
	if _, ok := archives[s.Archive]; s.Archive != "" && !ok {
		return s.Errorf("nix.archive", "[nix] archive %q is not one Hop3 unpacks\nuse tar-gz, tar-bz2, tar-xz or zip (or leave it out for a single file)", s.Archive)
	}
	return nil
}

// unpack is Hop3's Source.unpack_command.
func unpack(s *nixspec.Spec) string {
	if s.Archive == "zip" {
		return "unzip -q $src"
	}
	return fmt.Sprintf("tar x%sf $src --strip-components=%d", archives[s.Archive], s.StripComponents)
}

func prebuiltBinary(e *expr) error {
	s := e.s
	name := s.Str("binary-name", "")
	if name == "" {
		return s.Errorf("nix", "the prebuilt-binary template needs [nix] binary-name: the name the fetched binary is installed as in bin/")
	}
	target := orDefault(s.ExecTarget, name)
	src := s.Pname + "-bin"
	e.version()
	if err := e.fetch(src); err != nil {
		return err
	}
	e.env = e.runtimeEnv()
	wrapperName := s.Pname + "-wrapper"
	body := fmt.Sprintf("      mkdir -p $out/bin $out/hop3\n      cp ${%s} $out/bin/%s\n      chmod +x $out/bin/%s\n", src, name, name) +
		install(wrapperName, wrapper(s, nil, "BINDIR/"+target+execArgs(s)), sed{"BINDIR", "$out/bin"}) +
		e.runtimeJSON("$out/bin/"+wrapperName, "")
	e.app = e.mkDerivation("    dontUnpack = true;", body)
	return nil
}

func prebuiltArchive(e *expr) error {
	s := e.s
	if len(s.FileMappings) == 0 {
		return s.Errorf("nix", "the prebuilt-archive template needs [[nix.file-mappings]]: what to copy out of the unpacked archive")
	}
	if err := checkArchive(s); err != nil {
		return err
	}
	src := s.Pname + "-release"
	e.version()
	if err := e.fetch(src); err != nil {
		return err
	}
	e.env = e.runtimeEnv()
	attrs := "    src = " + src + ";"
	if s.SourceRoot != "" {
		attrs += "\n    sourceRoot = " + quoteRaw(s.SourceRoot) + ";"
	}
	if s.Archive == "zip" {
		attrs += "\n    nativeBuildInputs = [ pkgs.unzip ];\n    unpackPhase = ''\n      unzip $src\n    '';"
	}
	var copies strings.Builder
	for _, m := range s.FileMappings {
		r := ""
		if m.Recursive {
			r = "-r "
		}
		fmt.Fprintf(&copies, "      cp %s%s $out/%s\n", r, m.Source, m.Destination)
		if m.Executable {
			fmt.Fprintf(&copies, "      chmod +x $out/%s\n", m.Destination)
		}
	}
	wrapperName := s.Pname + "-wrapper"
	body := fmt.Sprintf("      mkdir -p $out/bin $out/hop3 $out/share/%s\n", s.Pname) + copies.String() +
		install(wrapperName, wrapper(s, nil, "BINDIR/"+s.ExecTarget+execArgs(s)),
			sed{"BINDIR", "$out/bin"}, sed{"SHAREDIR", "$out/share/" + s.Pname}) +
		e.runtimeJSON("$out/bin/"+wrapperName, "")
	e.app = e.mkDerivation(attrs, body)
	return nil
}

func nodePrebuilt(e *expr) error {
	s := e.s
	if err := checkArchive(s); err != nil {
		return err
	}
	src := s.Pname + "-src"
	e.version()
	e.let("  nodejs = pkgs.%s;", orDefault(s.RuntimePackage, "nodejs_22"))
	if err := e.fetch(src); err != nil {
		return err
	}
	e.env = e.runtimeEnv()
	unpack := fmt.Sprintf("tar xzf $src --strip-components=%d", s.StripComponents)
	if s.Flag("unpack-without-top-level", false) {
		unpack = "mkdir -p source\n      tar xzf $src -C source\n      sourceRoot=source"
	}
	attrs := fmt.Sprintf("    src = %s;\n    dontBuild = true;\n    buildInputs = [ nodejs ];\n    unpackPhase = ''\n      %s\n    '';", src, unpack)
	body := "      mkdir -p $out/app $out/bin $out/hop3\n      cp -r . $out/app/\n" +
		install(s.Pname, wrapper(s, nil, "NODEBIN/node "+s.ExecTarget+execArgs(s)),
			sed{"APPDIR", "$out/app"}, sed{"NODEBIN", "${nodejs}/bin"}) +
		e.runtimeJSON("$out/bin/"+s.Pname, "")
	e.app = e.mkDerivation(attrs, body)
	return nil
}

func javaWar(e *expr) error {
	s := e.s
	war := s.Str("war-file", "")
	if war == "" {
		return s.Errorf("nix", "the java-war template needs [nix] war-file: the WAR's name under $out/app (e.g. \"jenkins.war\")")
	}
	src := s.Pname + "-war"
	e.version()
	e.let("  jdk = pkgs.%s;", orDefault(s.RuntimePackage, "jdk17"))
	if err := e.fetch(src); err != nil {
		return err
	}
	e.env = e.runtimeEnv()
	args := ""
	if len(s.ExecArgs) > 0 {
		args = " \\\n  " + strings.Join(s.ExecArgs, " \\\n  ")
	}
	body := fmt.Sprintf("      mkdir -p $out/app $out/bin $out/hop3\n      cp ${%s} $out/app/%s\n", src, war) +
		install(s.Pname, wrapper(s, nil, "JAVABIN/java $JAVA_OPTS -jar WARPATH"+args),
			sed{"JAVABIN", "${jdk}/bin"}, sed{"WARPATH", "$out/app/" + war}) +
		e.runtimeJSON("$out/bin/"+s.Pname, "")
	e.app = e.mkDerivation("    dontUnpack = true;\n    dontBuild = true;\n    buildInputs = [ jdk ];", body)
	return nil
}
