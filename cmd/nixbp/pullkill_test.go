package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestPullKilledAtEachStep kills `nixbp cache pull` with SIGKILL at each
// step of a restore, then pulls again and checks that the store is whole:
// every path valid, contents as the database says, no temporary trees.
//
//   - while downloading: the NARs stop half way (the test's HTTP server
//     holds them), so the store holds partly unpacked temporary trees;
//   - between renaming into the store and registering: a nix-store wrapper
//     first on PATH waits forever when asked to register, so the paths are
//     on disk but not valid;
//   - after registering: the wrapper registers, then waits.
func TestPullKilledAtEachStep(t *testing.T) {
	root, result := cacheFixture(t)
	top := strings.TrimSpace(run(t, "", "readlink", result))
	dir := t.TempDir()
	if out, err := runCacheCmd(t, "push", "--cache", "file://"+dir, "--store", root, result); err != nil {
		t.Fatalf("push: %q, %v", out, err)
	}
	var stall atomic.Bool
	stalled := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(r.URL.Path, "/"))))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if !stall.Load() || !strings.HasPrefix(r.URL.Path, "/nar/") {
			_, _ = w.Write(data)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		_, _ = w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		stalled <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	realNixStore, err := exec.LookPath("nix-store")
	if err != nil {
		t.Fatal(err)
	}

	for _, step := range []struct {
		name    string
		wrapper string // nix-store wrapper's action on --load-db; "" for none
		after   func(t *testing.T, dest string)
		pulled  string // what the second pull says
	}{
		{
			name: "while downloading",
			after: func(t *testing.T, dest string) {
				if len(tempTrees(t, dest)) == 0 {
					t.Fatal("the kill left no temporary tree: it did not hit the download")
				}
			},
			pulled: "pulled 2 store paths",
		},
		{
			name:    "between rename and register",
			wrapper: `touch "$MARKER"; exec sleep 600`,
			after: func(t *testing.T, dest string) {
				if _, err := os.Lstat(dest + top); err != nil {
					t.Fatalf("%s is not on disk after the kill: %v", top, err)
				}
				if err := exec.Command("nix-store", "--store", dest, "--check-validity", top).Run(); err == nil {
					t.Fatalf("%s is valid: the kill came after registration", top)
				}
			},
			pulled: "pulled 2 store paths",
		},
		{
			name:    "after register",
			wrapper: `"$REAL" "$@" || exit; touch "$MARKER"; exec sleep 600`,
			after: func(t *testing.T, dest string) {
				run(t, "", "nix-store", "--store", dest, "--check-validity", top)
			},
			pulled: "pulled 0 store paths",
		},
	} {
		t.Run(step.name, func(t *testing.T) {
			dest := t.TempDir()
			if err := os.MkdirAll(dest+"/nix/store", 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = exec.Command("chmod", "-R", "u+w", dest).Run() })
			bin, marker := t.TempDir(), filepath.Join(t.TempDir(), "reached")
			env := append(os.Environ(), "NIXBP_TEST_RUN_MAIN=1")
			if step.wrapper != "" {
				// nixbp runs nix-store with an allow-listed environment
				// (internal/nixenv), so the script carries its own values.
				script := "#!/bin/sh\nMARKER='" + marker + "'\nREAL='" + realNixStore + "'\n" +
					"case \" $* \" in *\" --load-db \"*) " + step.wrapper + ";; esac\nexec \"$REAL\" \"$@\"\n"
				if err := os.WriteFile(bin+"/nix-store", []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
				env = append(env, "PATH="+bin+":"+os.Getenv("PATH"))
			}
			stall.Store(step.wrapper == "")
			log := filepath.Join(t.TempDir(), "log")
			out, err := os.Create(log)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			cmd := exec.Command(os.Args[0], "cache", "pull", "--cache", srv.URL, "--store", dest, top)
			cmd.Env, cmd.Stdout, cmd.Stderr = env, out, out
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			sawStall := false
			done := waitFor(t, cmd, log, func() bool {
				if step.wrapper == "" {
					select {
					case <-stalled:
						sawStall = true
					default:
					}
					// The client has the first half of a NAR: wait until it
					// unpacked some of it.
					return sawStall && len(tempTrees(t, dest)) > 0
				}
				_, err := os.Stat(marker)
				return err == nil
			})
			if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err == nil || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("the pull was not killed: %v", err)
			}
			killed, _ := os.ReadFile(log)
			t.Logf("killed pull:\n%s", killed)
			step.after(t, dest)

			stall.Store(false)
			got, err := runCacheCmd(t, "pull", "--cache", srv.URL, "--store", dest, top)
			if err != nil || !strings.Contains(got, step.pulled) {
				t.Fatalf("pull after the kill: %q, %v; want %q", got, err, step.pulled)
			}
			run(t, "", "nix-store", "--store", dest, "--check-validity", top)
			run(t, "", "nix-store", "--store", dest, "--verify", "--check-contents")
			if left := tempTrees(t, dest); len(left) > 0 {
				t.Errorf("temporary trees left in the store: %v", left)
			}
		})
	}
}

// waitFor starts cmd and polls reached until it is true, failing if the
// command exits first or nothing happens within a minute. It returns the
// command's exit, to wait for after the kill.
func waitFor(t *testing.T, cmd *exec.Cmd, log string, reached func() bool) <-chan error {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for deadline := time.Now().Add(time.Minute); !reached(); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			out, _ := os.ReadFile(log)
			t.Fatalf("the pull ended (%v) before the step:\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			out, _ := os.ReadFile(log)
			t.Fatalf("the pull did not reach the step in a minute:\n%s", out)
		}
	}
	return done
}

var tempTreeName = regexp.MustCompile(`^\..*\.tmp-[0-9a-f]+$`)

// tempTrees lists the temporary trees in dest's store.
func tempTrees(t *testing.T, dest string) []string {
	t.Helper()
	entries, err := os.ReadDir(dest + "/nix/store")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if tempTreeName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names
}
