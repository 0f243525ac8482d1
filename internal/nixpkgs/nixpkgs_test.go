package nixpkgs_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/nixpkgs"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

func TestMain(m *testing.M) {
	nixmount.MaybeRunChild()
	os.Exit(m.Run())
}

func installNix(t *testing.T, np nixinstall.Nixpkgs) nixinstall.Nix {
	t.Helper()
	tarball := testenv.NixTarball(t)
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(tarball), "nix-"), "-x86_64-linux.tar.xz")
	nix, err := nixinstall.Ensure(filepath.Join(t.TempDir(), "nix"), nixinstall.Tarball{Version: version, Checksum: "test",
		Open: func() (io.ReadCloser, error) { return os.Open(tarball) }}, nixmount.Auto, nixinstall.Conf{Nixpkgs: np})
	if err != nil {
		t.Fatal(err)
	}
	return nix
}

// channelTarball packs the test channel (nixpkgs-shaped, with busybox) as
// name in a fresh directory.
func channelTarball(t *testing.T, name, flag string) string {
	t.Helper()
	dir := t.TempDir()
	ch := testenv.Nixpkgs(t, dir)
	if out, err := exec.Command("tar", flag, filepath.Join(dir, name), "-C", dir, filepath.Base(ch)).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	return filepath.Join(dir, name)
}

// TestUnpackedWhereNixUnpacks unpacks the test channel's tarball (xz and
// gzip) into the buildpack's Nix store and checks that it is the store
// path the same Nix makes of that tarball as a <nixpkgs> entry, valid, its
// contents verifying, and that <nixpkgs> then evaluates from it.
func TestUnpackedWhereNixUnpacks(t *testing.T) {
	for _, c := range []struct{ name, flag string }{{"nixexprs.tar.xz", "-cJf"}, {"nixpkgs.tar.gz", "-czf"}} {
		t.Run(c.name, func(t *testing.T) {
			tarball := channelTarball(t, c.name, c.flag)
			url := "file://" + tarball
			nix := installNix(t, nixinstall.Nixpkgs{Spec: url, Entry: url})
			out, err := nix.Command("nix-instantiate", "--eval", "--json", "-E", "builtins.toString <nixpkgs>").Output()
			if err != nil {
				t.Fatalf("Nix unpacking <nixpkgs>: %v\n%s", err, out)
			}
			byNix := strings.Trim(strings.TrimSpace(string(out)), `"`)

			ours := installNix(t, nixinstall.Nixpkgs{Spec: url, Entry: url})
			state := filepath.Join(ours.Dir, "var", "nixbp", "nixpkgs.json")
			res, err := nixpkgs.Fetch(t.Context(), ours.Store(), url, state, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if res.StorePath != byNix {
				t.Fatalf("unpacked at %s; Nix unpacks it at %s", res.StorePath, byNix)
			}
			if out, err := ours.Command("nix-store", "--verify-path", res.StorePath).CombinedOutput(); err != nil {
				t.Fatalf("nix-store --verify-path %s: %v\n%s", res.StorePath, err, out)
			}
			ours.Nixpkgs.Unpacked = res.StorePath
			out, err = ours.Command("nix-instantiate", "--eval", "-E", `(import <nixpkgs> { }).busybox.name`).CombinedOutput()
			if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), `"busybox"`) {
				t.Fatalf("evaluating <nixpkgs> from the unpacked path: %v\n%s", err, out)
			}
			again, err := nixpkgs.Fetch(t.Context(), ours.Store(), url, state, 5*time.Second)
			if err != nil || !again.Reused || again.StorePath != res.StorePath {
				t.Fatalf("second Fetch of an unchanged tarball: %+v, %v", again, err)
			}
			if err := os.Remove(tarball); err != nil {
				t.Fatal(err)
			}
			gone, err := nixpkgs.Fetch(t.Context(), ours.Store(), url, state, 5*time.Second)
			if err != nil || !gone.Reused || !strings.Contains(gone.Why, "gone") {
				t.Fatalf("Fetch with the tarball gone: %+v, %v", gone, err)
			}
		})
	}
}

// TestHTTPRevalidation serves a tarball over HTTP with an ETag: a second
// Fetch within tarball-ttl asks nothing, one after it asks with the ETag
// and reuses the path on 304, and a changed tarball is unpacked anew.
func TestHTTPRevalidation(t *testing.T) {
	body := tarOf(t, []entry{{name: "top/", dir: true}, {name: "top/default.nix", text: "{ ... }: { }"}})
	etag := `"v1"`
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	store := newDirStore(t)
	state := filepath.Join(t.TempDir(), "state.json")
	url := srv.URL + "/nixexprs.tar"
	fetch := func() *nixpkgs.Result {
		t.Helper()
		res, err := nixpkgs.Fetch(context.Background(), store, url, state, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := fetch()
	if first.Reused || requests.Load() != 1 {
		t.Fatalf("first: %+v after %d requests", first, requests.Load())
	}
	if second := fetch(); !second.Reused || requests.Load() != 1 || second.StorePath != first.StorePath {
		t.Fatalf("second, within the TTL: %+v after %d requests", second, requests.Load())
	}
	age(t, state, 2*nixpkgs.TTL)
	if third := fetch(); !third.Reused || requests.Load() != 2 || !strings.Contains(third.Why, "not modified") {
		t.Fatalf("third, after the TTL: %+v after %d requests", third, requests.Load())
	}
	age(t, state, 2*nixpkgs.TTL)
	body, etag = tarOf(t, []entry{{name: "top/", dir: true}, {name: "top/default.nix", text: "{ ... }: { changed = 1; }"}}), `"v2"`
	if fourth := fetch(); fourth.Reused || fourth.StorePath == first.StorePath {
		t.Fatalf("fourth, the tarball changed: %+v", fourth)
	}
}

// TestRefusedTarballs: a tarball whose entries would leave the tree, or
// that has no single top directory, is refused and leaves nothing in or
// beside the store.
func TestRefusedTarballs(t *testing.T) {
	for _, c := range []struct {
		name    string
		entries []entry
		err     string
	}{
		{"dot-dot", []entry{{name: "top/", dir: true}, {name: "top/../../escaped", text: "x"}}, "leaves the tree"},
		{"through a link", []entry{{name: "top/", dir: true}, {name: "top/out", link: "/tmp"}, {name: "top/out/escaped", text: "x"}}, "under a symbolic link"},
		{"two tops", []entry{{name: "a/", dir: true}, {name: "b/", dir: true}}, "2 top-level entries"},
		{"a file at the top", []entry{{name: "default.nix", text: "{}"}}, "not a directory"},
		{"a hard link out of the tree", []entry{{name: "top/", dir: true}, {name: "top/h", hard: "../etc/passwd"}}, "points outside the tree"},
		{"a hard link to a symbolic link", []entry{{name: "top/", dir: true}, {name: "top/s", link: "/etc/passwd"}, {name: "top/h", hard: "top/s"}}, "at a symbolic link"},
		{"a fifo", []entry{{name: "top/", dir: true}, {name: "top/p", fifo: true}}, "cannot"},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := newDirStore(t)
			src := filepath.Join(t.TempDir(), "n.tar")
			if err := os.WriteFile(src, tarOf(t, c.entries), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := nixpkgs.Fetch(context.Background(), store, "file://"+src, filepath.Join(t.TempDir(), "s.json"), time.Second)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("Fetch: %v, want an error saying %q", err, c.err)
			}
			left, _ := os.ReadDir(store.dir)
			if len(left) != 0 {
				t.Fatalf("left in the store: %v", left)
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(store.dir), "escaped")); err == nil {
				t.Fatal("a file was written outside the store")
			}
		})
	}
}
