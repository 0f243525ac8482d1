package heroku

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
)

// Validation is one of hop3.toml's [[test.validations]]: Hop3's smoke test
// of a deployed app, an HTTP GET of Path answering Status (or one of
// StatusIn; 200 when neither is given) with a body holding Contains.
type Validation struct {
	Type     string `toml:"type"`
	Path     string `toml:"path"`
	Status   int    `toml:"status"`
	StatusIn []int  `toml:"status-in"`
	Contains string `toml:"contains"`
}

// ReadValidations reads the app's [[test.validations]] (from the
// hop3.toml config finds in dir); none is not an error.
func ReadValidations(dir string) ([]Validation, string, error) {
	name := config.FindTOML(dir)
	if name == "" {
		return nil, "", nil
	}
	var doc struct {
		Test struct {
			Validations []Validation `toml:"validations"`
		} `toml:"test"`
	}
	if _, err := toml.DecodeFile(filepath.Join(dir, name), &doc); err != nil {
		return nil, name, fmt.Errorf("unable to read %s\n%w", name, err)
	}
	return doc.Test.Validations, name, nil
}

// startWithin bounds the wait for the web process to answer HTTP.
const startWithin = 2 * time.Minute

// CITest is bin/test BUILD_DIR ENV_DIR (Heroku CI's testpack API, which
// herokuish's `buildpack test` and GitLab's Auto Test run after
// bin/test-compile): it starts the slug's web process from its Procfile as
// a dyno does (bash in the app directory, .profile.d sourced, PORT set),
// runs hop3.toml's [[test.validations]] against it on loopback and prints
// TAP on out, the process's output on log. No validations is a pass with
// nothing run. It returns whether every validation passed.
func CITest(buildDir string, out, log io.Writer) (bool, error) {
	vs, name, err := ReadValidations(buildDir)
	if err != nil {
		return false, err
	}
	if len(vs) == 0 {
		fmt.Fprintln(out, "1..0 # SKIP no [[test.validations]] in hop3.toml")
		return true, nil
	}
	line, err := procfileLine(filepath.Join(buildDir, "Procfile"), "web")
	if err != nil {
		return false, fmt.Errorf("%s has [[test.validations]], but there is no web process to check them against\n%w\n"+
			"declare a web worker (runtime.json workers.web, or a static directory)", name, err)
	}
	port, err := freePort()
	if err != nil {
		return false, err
	}
	cmd := exec.Command("bash", "-c", `for f in .profile.d/*.sh; do [ -r "$f" ] && . "$f"; done; exec `+line)
	cmd.Dir = buildDir
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("unable to start the web process %q\n%w", line, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer stopGroup(cmd, exited)

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := awaitHTTP(base, exited); err != nil {
		return false, err
	}
	fmt.Fprintf(out, "1..%d\n", len(vs))
	passed := true
	for i, v := range vs {
		desc, problem := v.run(base)
		switch {
		case problem == "skip":
			fmt.Fprintf(out, "ok %d - %s # SKIP bin/test runs http validations only\n", i+1, desc)
		case problem != "":
			passed = false
			fmt.Fprintf(out, "not ok %d - %s\n  # %s\n", i+1, desc, problem)
		default:
			fmt.Fprintf(out, "ok %d - %s\n", i+1, desc)
		}
	}
	return passed, nil
}

// run checks one validation against the server at base: a description,
// and "" when it passes, "skip" for a type bin/test does not run, or what
// was wrong.
func (v Validation) run(base string) (string, string) {
	path := v.Path
	if path == "" {
		path = "/"
	}
	want := v.StatusIn
	if v.Status != 0 {
		want = append(want, v.Status)
	}
	if len(want) == 0 {
		want = []int{200}
	}
	desc := fmt.Sprintf("GET %s answers %v", path, want)
	if v.Contains != "" {
		desc += fmt.Sprintf(" containing %q", v.Contains)
	}
	if v.Type != "" && v.Type != "http" {
		return v.Type + " validation of " + path, "skip"
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(base + path)
	if err != nil {
		return desc, err.Error()
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return desc, err.Error()
	}
	ok := false
	for _, s := range want {
		ok = ok || resp.StatusCode == s
	}
	switch {
	case !ok:
		return desc, fmt.Sprintf("got status %d", resp.StatusCode)
	case !strings.Contains(string(body), v.Contains):
		return desc, fmt.Sprintf("the body does not contain %q: %.200q", v.Contains, body)
	}
	return desc, ""
}

// awaitHTTP waits until the server at base answers anything, the process
// exits, or startWithin passes.
func awaitHTTP(base string, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), startWithin)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		if resp, err := client.Get(base + "/"); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the web process exited before answering HTTP on %s: %v", base, err)
		case <-ctx.Done():
			return fmt.Errorf("the web process did not answer HTTP on %s within %s", base, startWithin)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stopGroup stops the web process and its children: SIGTERM, then SIGKILL
// after 10 s, as a platform stops a dyno.
func stopGroup(cmd *exec.Cmd, exited <-chan error) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

// procfileLine is the command line of a process type in a Procfile, as
// Heroku reads it (the text after "type:").
func procfileLine(path, processType string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("unable to read %s\n%w", path, err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if t, cmd, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(t) == processType {
			return strings.TrimSpace(cmd), nil
		}
	}
	return "", fmt.Errorf("%s has no %s process", path, processType)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("unable to find a free port\n%w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// CITestMain runs bin/test BUILD_DIR [ENV_DIR] (further arguments are
// ignored) and returns its exit status: 0 when every validation passed.
func CITestMain(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprintln(stderr, errorPrefix+"usage: bin/test BUILD_DIR [ENV_DIR]")
		return 2
	}
	ok, err := CITest(args[0], stdout, stderr)
	if err != nil {
		NewLogger(stderr).TerminalError(logError(err))
		return 1
	}
	if !ok {
		return 1
	}
	return 0
}
