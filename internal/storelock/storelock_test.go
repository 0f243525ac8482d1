package storelock_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/cache/storedir"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
	"github.com/nix-buildpack/nix-buildpack/internal/storelock"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestMain lets the test binary act as the first build: with
// STORELOCK_HOLD=DIR it takes DIR's build lock, says "held" and keeps it
// until its standard input closes.
func TestMain(m *testing.M) {
	if dir := os.Getenv("STORELOCK_HOLD"); dir != "" {
		l, err := storelock.Acquire(dir, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("held")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		l.Release()
		os.Exit(0)
	}
	code := m.Run()
	testenv.RemoveNixClosure()
	os.Exit(code)
}

// syncBuffer is a log written by one goroutine and read by another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// eventually polls cond until it holds; only a hang exceeds the bound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after 3 minutes", what)
		}
	}
}

// TestSecondBuildWaits: a build that finds the store's build lock held by
// another process says which one, waits, and goes on once it is free.
func TestSecondBuildWaits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nix")
	holder := exec.Command(os.Args[0], "-test.run=^$")
	holder.Env = append(os.Environ(), "STORELOCK_HOLD="+dir)
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Wait()
	defer stdin.Close()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "held\n" {
		t.Fatalf("the holder said %q", line)
	}

	var log syncBuffer
	got := make(chan error, 1)
	go func() {
		l, err := storelock.Acquire(dir, &log)
		if err == nil {
			l.Release()
		}
		got <- err
	}()
	want := fmt.Sprintf("The Nix store in %s is in use by another build (pid %d on ", dir, holder.Process.Pid)
	eventually(t, "the waiting message", func() bool { return strings.Contains(log.String(), want) })
	select {
	case err := <-got:
		t.Fatalf("Acquire returned (%v) while another build held the lock", err)
	default:
	}
	stdin.Close() // the first build ends
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "is free again") {
		t.Errorf("log:\n%s", log.String())
	}
}

// waiterOn says whether /proc/locks shows a process waiting for a lock on
// the file at path (a line "N: -> FLOCK ... <dev>:<inode> ..."): a blocked
// nix-store --gc, seen without timing anything.
func waiterOn(t *testing.T, path string) bool {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	ino := fmt.Sprintf(":%d ", fi.Sys().(*syscall.Stat_t).Ino)
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		testenv.Missing(t, "/proc/locks: "+err.Error())
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "->") && strings.Contains(line, ino) {
			return true
		}
	}
	return false
}

// fixtureCache pushes the fixture closure into a file:// cache and returns
// it with the closure's PathInfos.
func fixtureCache(t *testing.T) (*cache.Cache, *testenv.Closure, []narinfo.PathInfo) {
	t.Helper()
	c := testenv.NixClosure(t)
	dump := testenv.Nix(t, "", "nix-store", append([]string{"--store", c.Root, "--dump-db"}, c.Paths...)...)
	infos, err := narinfo.ParseRegistration(strings.NewReader(dump))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cache.Open(t.Context(), "file://"+t.TempDir(), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := cc.Push(t.Context(), infos, c.StoreDir()); err != nil || len(res.Failed) > 0 {
		t.Fatalf("push: %+v %v", res, err)
	}
	return cc, c, infos
}

// chrootStore is root's store as Fetch sees it.
func chrootStore(root string) storedir.Store { return nixstore.Host(root, nil) }

// registerAll registers what Fetch installed, as the restore does.
func registerAll(t *testing.T, root string, infos []narinfo.PathInfo) {
	t.Helper()
	var reg bytes.Buffer
	if err := narinfo.FormatRegistration(&reg, infos); err != nil {
		t.Fatal(err)
	}
	testenv.Nix(t, reg.String(), "nix-store", "--store", root, "--load-db")
}

// verify lists the valid paths missing from disk (first: nix-store
// --verify drops them from the database as it finds them), then runs
// nix-store --verify --check-contents.
func verify(t *testing.T, root string) string {
	t.Helper()
	var missing []string
	valid := testenv.Nix(t, "", "nix-store", "--store", root, "--dump-db")
	infos, _ := narinfo.ParseRegistration(strings.NewReader(valid))
	for _, i := range infos {
		if _, err := os.Lstat(filepath.Join(root, i.StorePath)); err != nil {
			missing = append(missing, i.StorePath)
		}
	}
	if len(missing) > 0 {
		return "valid but missing: " + strings.Join(missing, " ")
	}
	if out, err := testenv.NixRun("", "nix-store", "--store", root, "--verify", "--check-contents"); err != nil {
		return out + err.Error()
	}
	return ""
}

// TestRestoreRacingGC: a restore renames each verified NAR into the store,
// then registers the batch. A `nix-store --gc` run in between (by hand on a
// shared store) deletes the renamed, not yet valid paths; the registration
// then makes valid paths with nothing on disk. Holding Nix's gc.lock shared
// (HoldGC), as the pipeline does from before the restore, makes that
// collection wait until the paths are registered: the store verifies.
func TestRestoreRacingGC(t *testing.T) {
	testenv.Require(t, "nix-store")
	cc, c, _ := fixtureCache(t)

	t.Run("without the lock: the store is corrupt (the hazard)", func(t *testing.T) {
		root := testenv.EmptyStore(t)
		res, err := cc.Fetch(t.Context(), []string{c.Top}, chrootStore(root))
		if err != nil || len(res.Installed) != len(c.Paths) {
			t.Fatalf("fetch: %+v %v", res, err)
		}
		testenv.Nix(t, "", "nix-store", "--store", root, "--gc")
		registerAll(t, root, res.Installed)
		problems := verify(t, root)
		if problems == "" {
			t.Fatal("a collection between rename and registration left a sound store: the race this test guards against did not happen")
		}
		t.Logf("as expected: %s", problems)
	})

	t.Run("with HoldGC: the collection waits, the store verifies", func(t *testing.T) {
		root := testenv.EmptyStore(t)
		testenv.Nix(t, "", "nix-store", "--store", root, "--init")
		l, err := storelock.Acquire(filepath.Join(root, "nix"), os.Stderr)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		if err := l.HoldGC(); err != nil {
			t.Fatal(err)
		}
		res, err := cc.Fetch(t.Context(), []string{c.Top}, chrootStore(root))
		if err != nil || len(res.Installed) != len(c.Paths) {
			t.Fatalf("fetch: %+v %v", res, err)
		}
		gc := exec.Command("nix-store", "--store", root, "--gc")
		gc.Env = append(os.Environ(), "NIX_CONFIG=substituters =")
		var gcOut bytes.Buffer
		gc.Stdout, gc.Stderr = &gcOut, &gcOut
		if err := gc.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- gc.Wait() }()
		gcLock := filepath.Join(root, "nix", "var", "nix", "gc.lock")
		eventually(t, "nix-store --gc to wait for gc.lock", func() bool {
			select {
			case err := <-done:
				t.Fatalf("nix-store --gc ran while the restore held gc.lock: %v\n%s", err, gcOut.String())
			default:
			}
			return waiterOn(t, gcLock)
		})
		registerAll(t, root, res.Installed)
		l.ReleaseGC()
		if err := <-done; err != nil {
			t.Fatalf("nix-store --gc: %v\n%s", err, gcOut.String())
		}
		if problems := verify(t, root); problems != "" {
			t.Fatalf("store after a restore racing a collection: %s\n%s", problems, gcOut.String())
		}
	})
}

// TestReleaseRemovesTemporaryRoots: the roots that keep a build's output
// between its gc.lock and its own roots go with the build.
func TestReleaseRemovesTemporaryRoots(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nix")
	l, err := storelock.Acquire(dir, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Root("/nix/store/" + strings.Repeat("a", 32) + "-out"); err != nil {
		t.Fatal(err)
	}
	roots := filepath.Join(dir, "var", "nix", "gcroots", "nixbp-building")
	if entries, _ := os.ReadDir(roots); len(entries) != 1 {
		t.Fatalf("temporary roots %v", entries)
	}
	l.Release()
	if _, err := os.Lstat(roots); err == nil {
		t.Error("Release left the temporary roots")
	}
}
