// Command demo builds an app with the buildpack through the official CNB
// lifecycle (detector, builder as an unprivileged user), starts its web
// process through the lifecycle's launcher and prints the HTTP answers:
//
//	go run ./e2e/demo -app DIR -env NAME=VALUE ... -get PATH ...
//
// The app defaults to fixtures/apps/hello-web. This machine is offline, so
// the demo makes the nixpkgs-shaped test channel (fixtures/nixpkgs) and sets
// BP_NIX_NIXPKGS to it and BP_NIX_SUBSTITUTERS to none unless -env sets
// them, and says so. Run it with scripts/demo.sh, which installs what it
// needs first.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// list is a repeatable flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, " ") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	repo := flag.String("repo", ".", "the buildpack's checkout")
	app := flag.String("app", "", "the app to build (absolute, or relative to the current directory; default fixtures/apps/hello-web)")
	tools := flag.String("tools", ".tools", "where scripts/setup.sh put the lifecycle and the Nix tarball")
	var envs, gets list
	flag.Var(&envs, "env", "NAME=VALUE passed to the build as platform environment (repeatable)")
	flag.Var(&gets, "get", "a path to fetch from the web process (repeatable; default /)")
	flag.Parse()
	if err := run(*repo, *app, *tools, envs, gets); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(repo, app, tools string, envs, gets []string) error {
	repo, _ = filepath.Abs(repo)
	tools, _ = filepath.Abs(tools)
	if app == "" {
		app = filepath.Join(repo, "fixtures", "apps", "hello-web")
	}
	app, _ = filepath.Abs(app)
	if fi, err := os.Stat(app); err != nil || !fi.IsDir() {
		return fmt.Errorf("-app %s: expected the app's directory", app)
	}
	if len(gets) == 0 {
		gets = []string{"/"}
	}
	env := map[string]string{}
	for _, kv := range envs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("-env %q: expected NAME=VALUE", kv)
		}
		env[k] = v
	}
	if _, ok := env["BP_NIX_SUBSTITUTERS"]; !ok {
		env["BP_NIX_SUBSTITUTERS"] = "none"
		step("This machine is offline: BP_NIX_SUBSTITUTERS=none (pass -env to change it)")
	}
	_, own := env["BP_NIX_NIXPKGS"]
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
		AppSource: app, Buildpack: bp, NixTarball: tarball, Busybox: "/bin/busybox", Nixpkgs: !own, Env: env, UID: 2000, GID: 2000})
	if err != nil {
		return err
	}
	if !own {
		step("This machine cannot download nixpkgs: BP_NIX_NIXPKGS=" + w.Nixpkgs + " (the test channel fixtures/nixpkgs; pass -env BP_NIX_NIXPKGS=... to change it)")
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
	defer e2e.Stop(cmd)
	failed := 0
	for _, path := range gets {
		url := "http://127.0.0.1:" + strconv.Itoa(port) + path
		status, body, err := e2e.Get(url, 15*time.Second)
		if err != nil {
			return err
		}
		step(fmt.Sprintf("GET %s -> HTTP %d", url, status))
		fmt.Print(body)
		if status != 200 {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests did not answer HTTP 200", failed, len(gets))
	}
	return nil
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }
