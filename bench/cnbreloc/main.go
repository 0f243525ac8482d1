// Command cnbreloc measures what relocated CNB store layers
// (BP_NIX_RELOCATE=always) cost against the closure as built (never),
// through the real lifecycle: the first build's time and the relocation's
// copy and check (from the build log), an unchanged rebuild (every store
// layer must be reused), each store layer's size as the exporter would
// send it (tar with normalised times and owners, and gzipped) and its
// digest, and the builder's disk use (relocated layers are copies, not
// hard links into the build's store).
//
//	go run ./bench/cnbreloc [-data /usr/lib/python3.11 -rounds 1]
//
// The app is busybox plus a copy of -data as a second store path the
// output names (Debian's Python standard library by default: 54 MB, 1,407
// files). Needs root (the lifecycle runs as uid 2000), the lifecycle and
// the Nix tarball fixture (scripts/setup.sh).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

const hop3Nix = `let
  bb = ./bb;
  data = ./data;
in {
  package = derivation {
    name = "big-web";
    system = "x86_64-linux";
    builder = "${bb}/bin/sh";
    PATH = "${bb}/bin";
    args = [ "-c" ''
      set -e
      mkdir -p $out/www $out/hop3
      echo "Hello from big-web" > $out/www/index.html
      echo ${data} > $out/data-path
      cat > $out/hop3/runtime.json <<EOF
      {"workers": {"web": "busybox httpd -f -p \"\$BIND_ADDRESS:\$PORT\" -h $out/www"}, "path": ["${bb}/bin"]}
      EOF
    '' ];
  };
}
`

func main() {
	data := flag.String("data", "/usr/lib/python3.11", "directory copied into the app as a store path of the closure")
	rounds := flag.Int("rounds", 1, "rounds of (never, always)")
	flag.Parse()
	if err := run(*data, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "cnbreloc:", err)
		os.Exit(1)
	}
}

func run(data string, rounds int) error {
	lc := filepath.Join(testenv.ToolsDir(), "lifecycle-0.21.14")
	dir, err := os.MkdirTemp("", "bench-cnbreloc-")
	if err != nil {
		return err
	}
	defer func() { sh("chmod -R u+w " + dir); os.RemoveAll(dir) }()
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	tarball, err := e2e.Readable(testenv.NixTarballPath(testenv.ToolsDir()), dir)
	if err != nil {
		return err
	}
	bp, err := e2e.Package(testenv.RepoRoot(), filepath.Join(dir, "out"), tarball)
	if err != nil {
		return err
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "hop3.nix"), []byte(hop3Nix), 0o644); err != nil {
		return err
	}
	if _, err := sh("cp -a " + data + " " + src + "/data && chmod -R a+rX,go-w " + src + "/data"); err != nil {
		return err
	}
	for r := range rounds {
		for _, mode := range []string{"never", "always"} {
			if err := measure(filepath.Join(dir, fmt.Sprintf("%s-%d", mode, r)), lc, bp, tarball, src, mode); err != nil {
				return err
			}
		}
	}
	return nil
}

var logLine = regexp.MustCompile(`(Copied \d+ store paths \(.*|Checked .*|Store layers: .*|Reusing the runtime closure.*)`)

func measure(root, lc, bp, tarball, src, mode string) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	w, err := e2e.NewWorkspace(root, lc, e2e.Options{AppSource: src, Buildpack: bp, NixTarball: tarball, Busybox: "/bin/busybox",
		Env: e2e.Offline(map[string]string{"BP_NIX_RELOCATE": mode}), UID: 2000, GID: 2000})
	if err != nil {
		return err
	}
	if out, err := w.Detect(); err != nil {
		return fmt.Errorf("detect: %w\n%s", err, out)
	}
	for _, build := range []string{"first build", "unchanged rebuild"} {
		start := time.Now()
		out, err := w.Build()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", build, err, out)
		}
		fmt.Printf("%s, %s: %s\n", mode, build, time.Since(start).Round(time.Millisecond))
		for _, l := range logLine.FindAllString(out, -1) {
			fmt.Printf("    %s\n", strings.TrimRight(l, "\x1b[0m"))
		}
	}
	layers := filepath.Join(w.Layers, "nix-buildpack_nix")
	// The store layers: store-* and those named after the directory store
	// path they hold; not nix, view, launcher (nor the layers' .toml files).
	dirs, _ := filepath.Glob(filepath.Join(layers, "*"))
	for _, d := range dirs {
		if b := filepath.Base(d); strings.HasSuffix(d, ".toml") || b == "nix" || b == "view" || b == "launcher" {
			continue
		}
		tar := "tar -C " + layers + " --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -c " + filepath.Base(d)
		size, _ := sh(tar + " | wc -c")
		gz, _ := sh(tar + " | gzip -6 | wc -c")
		sum, _ := sh(tar + " | sha256sum | cut -c1-16")
		fmt.Printf("    %s: tar %s bytes, gzip %s bytes, sha256 %s\n", filepath.Base(d), size, gz, sum)
	}
	du, _ := sh("du -sh " + w.Layers + " | cut -f1")
	fmt.Printf("    layers directory on disk (hard links counted once): %s\n", du)
	return nil
}

func sh(script string) (string, error) {
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s: %w\n%s", script, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}
