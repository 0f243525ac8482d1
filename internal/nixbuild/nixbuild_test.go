package nixbuild_test

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixbuild"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

var (
	nixOnce sync.Once
	nixDir  string
	nixErr  error
)

func TestMain(m *testing.M) {
	nixmount.MaybeRunChild()
	code := m.Run()
	if nixDir != "" {
		_ = filepath.Walk(nixDir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
		_ = os.RemoveAll(filepath.Dir(nixDir))
	}
	os.Exit(code)
}

// installed is a real Nix, installed once for the package's tests from the
// tarball fixture, without substituters (these tests are not about them).
func installed(t *testing.T, settings nixinstall.Conf) nixinstall.Nix {
	t.Helper()
	tarball := testenv.NixTarball(t)
	nixOnce.Do(func() {
		var root string
		if root, nixErr = os.MkdirTemp("", "nixbuild-test-"); nixErr == nil {
			nixDir = filepath.Join(root, "nix")
		}
	})
	if nixErr != nil {
		t.Fatal(nixErr)
	}
	base := filepath.Base(tarball)
	version := strings.TrimSuffix(strings.TrimPrefix(base, "nix-"), "-x86_64-linux.tar.xz")
	n, err := nixinstall.Ensure(nixDir, nixinstall.Tarball{Version: version, Checksum: "test",
		Open: func() (io.ReadCloser, error) { return os.Open(tarball) }}, nixmount.UserNS, settings)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return n
}

// app writes files into a fresh app directory with busybox in bb/.
func app(t *testing.T, file string, files map[string]string) config.App {
	t.Helper()
	dir := t.TempDir()
	testenv.Busybox(t, dir)
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return config.App{Dir: dir, NixFile: file, Flake: file == "flake.nix"}
}

// drv is a busybox derivation running script.
func drv(name, script string) string {
	return `derivation { name = "` + name + `"; system = "x86_64-linux"; builder = "${bb}/bin/sh"; PATH = "${bb}/bin";
	  args = [ "-c" ''` + script + `'' ]; }`
}

func TestTargetAndBuild(t *testing.T) {
	n := installed(t, nixinstall.Conf{})
	tests := []struct {
		name, expr string
		attr       bool
		want       string
	}{
		{name: "package attribute", expr: `let bb = ./bb; in { package = ` + drv("p", "echo package > $out") + `; }`,
			attr: true, want: "package"},
		{name: "function with defaults", expr: `{ greeting ? "called" }: let bb = ./bb; in { package = ` +
			drv("f", "echo ${greeting} > $out") + `; }`, attr: true, want: "called"},
		{name: "top-level derivation", expr: `let bb = ./bb; in ` + drv("d", "echo top > $out"), want: "top"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := app(t, "hop3.nix", map[string]string{"hop3.nix": tt.expr})
			target := nixbuild.Target(n, a)
			want := []string{a.NixPath()}
			if tt.attr {
				want = append(want, "-A", "package")
			}
			if !reflect.DeepEqual(target, want) {
				t.Fatalf("Target = %q; want %q", target, want)
			}
			var log strings.Builder
			out, err := nixbuild.Build(n, a, nixbuild.Options{Timeout: time.Minute, MaxSilentTime: time.Minute}, &log)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if data, _ := os.ReadFile(filepath.Join(n.Dir, "store", filepath.Base(out))); strings.TrimSpace(string(data)) != tt.want {
				t.Fatalf("built %q; want %q", data, tt.want)
			}
			if !strings.Contains(log.String(), "nix-build "+strings.Join(append([]string{"hop3.nix"}, want[1:]...), " ")+
				" --no-out-link --option timeout 60 --option max-silent-time 60") {
				t.Fatalf("log does not show the nix-build command:\n%s", log.String())
			}
			drvPath, err := nixbuild.Instantiate(n, a)
			if err != nil || !strings.HasSuffix(drvPath, ".drv") {
				t.Fatalf("Instantiate = %q, %v", drvPath, err)
			}
		})
	}
}

// TestMaxSilentTime: Nix stops a build silent for longer than the limit,
// and the error says which setting raises it.
func TestMaxSilentTime(t *testing.T) {
	n := installed(t, nixinstall.Conf{})
	a := app(t, "hop3.nix", map[string]string{"hop3.nix": `let bb = ./bb; in { package = ` +
		drv("silent", "sleep 30; echo late > $out") + `; }`})
	_, err := nixbuild.Build(n, a, nixbuild.Options{MaxSilentTime: time.Second}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "timed out after 1 seconds") || !strings.Contains(err.Error(), "BP_NIX_MAX_SILENT_TIME") {
		t.Fatalf("Build of a silent derivation with max-silent-time 1s: %v", err)
	}
}
