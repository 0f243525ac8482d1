// Command demo builds fixtures/apps/hello-web with the buildpack through the
// official CNB lifecycle (detector, builder as an unprivileged user), starts
// its web process through the lifecycle's launcher and prints the HTTP answer.
// Run it with scripts/demo.sh, which installs what it needs first.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

func main() {
	repo := flag.String("repo", ".", "the buildpack's checkout")
	app := flag.String("app", "fixtures/apps/hello-web", "the app to build")
	tools := flag.String("tools", ".tools", "where scripts/setup.sh put the lifecycle and the Nix tarball")
	flag.Parse()
	if err := run(*repo, *app, *tools); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(repo, app, tools string) error {
	repo, _ = filepath.Abs(repo)
	tools, _ = filepath.Abs(tools)
	tarball := testenv.NixTarballPath(tools)
	if _, err := os.Stat(tarball); err != nil {
		return fmt.Errorf("no Nix tarball at %s: run scripts/setup.sh", tarball)
	}
	root, err := os.MkdirTemp("", "nixbp-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	if err := os.Chmod(root, 0o755); err != nil {
		return err
	}
	tarball, err = e2e.Readable(tarball, root)
	if err != nil {
		return err
	}
	step("Packaging the buildpack (scripts/package.sh)")
	bp, err := e2e.Package(repo, filepath.Join(root, "out"), tarball)
	if err != nil {
		return err
	}
	w, err := e2e.NewWorkspace(filepath.Join(root, "ws"), filepath.Join(tools, "lifecycle-0.21.14"), e2e.Options{
		AppSource: filepath.Join(repo, app), Buildpack: bp, NixTarball: tarball, Busybox: "/bin/busybox", UID: 2000, GID: 2000})
	if err != nil {
		return err
	}
	step("lifecycle detect (as uid 2000)")
	out, err := w.Detect()
	fmt.Print(out)
	if err != nil {
		return err
	}
	step("lifecycle build (as uid 2000)")
	start := time.Now()
	out, err = w.Build()
	fmt.Print(out)
	if err != nil {
		return err
	}
	fmt.Printf("build took %s\n", time.Since(start).Round(time.Millisecond))
	port, err := e2e.FreePort()
	if err != nil {
		return err
	}
	step("launcher: web process on 127.0.0.1:" + strconv.Itoa(port))
	cmd, err := w.Launch("web", map[string]string{"PORT": strconv.Itoa(port), "BIND_ADDRESS": "127.0.0.1"}, os.Stdout)
	if err != nil {
		return err
	}
	status, body, err := e2e.Get("http://127.0.0.1:"+strconv.Itoa(port)+"/", 15*time.Second)
	_, _ = e2e.Stop(cmd)
	if err != nil {
		return err
	}
	step(fmt.Sprintf("GET http://127.0.0.1:%d/ -> HTTP %d", port, status))
	fmt.Print(body)
	if status != 200 {
		return fmt.Errorf("HTTP %d", status)
	}
	return nil
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }
