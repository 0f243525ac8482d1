package cache

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/storedir"
	"github.com/nix-buildpack/nix-buildpack/internal/nar"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// pushedCache pushes the fixture into a fresh file:// cache directory,
// signed with sk when not nil, and returns the directory.
func pushedCache(t testing.TB, f *fixture, sk *narinfo.SecretKey) string {
	t.Helper()
	dir := t.TempDir()
	res, err := openCache(t, "file://"+dir, Options{SecretKey: sk}).Push(ctx(t), f.infos(t), f.storeDir())
	if err != nil || len(res.Failed) != 0 {
		t.Fatalf("push: %+v, %v", res, err)
	}
	return dir
}

// pathNamed returns the fixture path whose name is name.
func (f *fixture) pathNamed(t testing.TB, name string) string {
	t.Helper()
	for _, p := range f.closure {
		if strings.HasSuffix(p, "-"+name) {
			return p
		}
	}
	t.Fatalf("no fixture path named %s", name)
	return ""
}

// narFile returns the file of p's NAR in the cache directory dir.
func narFile(t testing.TB, dir, p string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, narinfo.HashPart(p)+".narinfo"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := narinfo.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, filepath.FromSlash(e.URL))
}

// editNarinfo rewrites p's narinfo in dir with edit.
func editNarinfo(t testing.TB, dir, p string, edit func(string) string) {
	t.Helper()
	file := filepath.Join(dir, narinfo.HashPart(p)+".narinfo")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(edit(string(data))), 0o644); err != nil {
		t.Fatal(err)
	}
}

// assertStoreHolds fails unless storeDir holds exactly the installed paths
// (no temporary or partial entries) and those are exactly want. Nix's
// .links (made by the validity query) and the restore lock do not count.
func assertStoreHolds(t testing.TB, storeDir string, res *FetchResult, want []string) {
	t.Helper()
	entries, err := os.ReadDir(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	var onDisk, installed, wantBase []string
	for _, e := range entries {
		if e.Name() != ".links" && e.Name() != storedir.LockName {
			onDisk = append(onDisk, e.Name())
		}
	}
	for _, i := range res.Installed {
		installed = append(installed, filepath.Base(i.StorePath))
	}
	for _, w := range want {
		wantBase = append(wantBase, filepath.Base(w))
	}
	slices.Sort(installed)
	slices.Sort(wantBase)
	if !slices.Equal(onDisk, wantBase) || !slices.Equal(installed, wantBase) {
		t.Fatalf("store dir holds %v, Installed %v, want %v", onDisk, installed, wantBase)
	}
}

func without(all []string, drop ...string) []string {
	var out []string
	for _, p := range all {
		if !slices.Contains(drop, p) {
			out = append(out, p)
		}
	}
	return out
}

func TestFetchFaults(t *testing.T) {
	f := buildFixture(t)
	sk, pub := keyPair(t, "faults-1")
	_, otherPub := keyPair(t, "faults-other")
	clean := pushedCache(t, f, sk)
	data, app, top := f.pathNamed(t, "data"), f.pathNamed(t, "app"), f.pathNamed(t, "top")

	tests := []struct {
		name    string
		break_  func(t *testing.T, dir string)
		trusted string
		warning string   // regexp a warning must match
		missing []string // besides the broken path, top refers to everything
	}{
		{
			name: "corrupted NAR bytes",
			break_: func(t *testing.T, dir string) {
				flipByte(t, narFile(t, dir, data), 0.5)
			},
			warning: data + `: .*(NAR hash mismatch|invalid|zstd|checksum|corrupt)`,
			missing: []string{data, top},
		},
		{
			name: "truncated NAR",
			break_: func(t *testing.T, dir string) {
				file := narFile(t, dir, data)
				fi, _ := os.Stat(file)
				if err := os.Truncate(file, fi.Size()/2); err != nil {
					t.Fatal(err)
				}
			},
			warning: data + `: .*`,
			missing: []string{data, top},
		},
		{
			name: "wrong NAR hash in the narinfo",
			break_: func(t *testing.T, dir string) {
				editNarinfo(t, dir, app, func(s string) string {
					return regexp.MustCompile(`NarHash: sha256:\w+`).ReplaceAllString(s, "NarHash: "+hash32)
				})
			},
			trusted: "", // unsigned check off: the signature would catch it first
			warning: app + `: NAR hash mismatch: narinfo says ` + regexp.QuoteMeta(hash32),
			missing: []string{app, top},
		},
		{
			name: "NAR size in the narinfo too small",
			break_: func(t *testing.T, dir string) {
				editNarinfo(t, dir, app, func(s string) string {
					return regexp.MustCompile(`NarSize: \d+`).ReplaceAllString(s, "NarSize: 12")
				})
			},
			warning: app + `: its NAR nar/\w+\.nar\.zst unpacks to more than the NarSize 12 of ` + narinfo.HashPart(app) + `\.narinfo`,
			missing: []string{app, top},
		},
		{
			name: "NAR size in the narinfo too large",
			break_: func(t *testing.T, dir string) {
				editNarinfo(t, dir, app, func(s string) string {
					return regexp.MustCompile(`NarSize: \d+`).ReplaceAllString(s, "NarSize: 123456789")
				})
			},
			warning: app + `: NAR size mismatch: narinfo says 123456789 bytes, got \d+`,
			missing: []string{app, top},
		},
		{
			name: "unsigned path with trusted keys",
			break_: func(t *testing.T, dir string) {
				editNarinfo(t, dir, app, func(s string) string {
					return regexp.MustCompile(`(?m)^Sig: .*\n`).ReplaceAllString(s, "")
				})
			},
			trusted: pub,
			warning: app + `: .*is not signed, and trusted keys are set`,
			missing: []string{app, top},
		},
		{
			name:    "signed by an untrusted key",
			break_:  func(t *testing.T, dir string) {},
			trusted: otherPub,
			warning: `is not signed by any trusted key \(signatures: faults-1\)`,
			missing: f.closure,
		},
		{
			name: "tampered narinfo breaks the signature",
			break_: func(t *testing.T, dir string) {
				editNarinfo(t, dir, app, func(s string) string {
					return regexp.MustCompile(`NarSize: \d+`).ReplaceAllString(s, "NarSize: 12")
				})
			},
			trusted: pub,
			warning: app + `: .*is not signed by any trusted key`,
			missing: []string{app, top},
		},
		{
			name: "NAR object missing",
			break_: func(t *testing.T, dir string) {
				if err := os.Remove(narFile(t, dir, data)); err != nil {
					t.Fatal(err)
				}
			},
			warning: data + `: its NAR nar/\w+\.nar\.zst is missing from the cache`,
			missing: []string{data, top},
		},
		{
			name: "NAR URL names a directory: permanent, not retried",
			break_: func(t *testing.T, dir string) {
				editNarinfo(t, dir, data, func(s string) string {
					return regexp.MustCompile(`(?m)^URL: .*$`).ReplaceAllString(s, "URL: nar")
				})
			},
			warning: `^` + data + `: nar in the cache is not a regular file; treating it as missing$`,
			missing: []string{data, top},
		},
		{
			// Issue 21, row 9: NarSize and NarHash cover the extra
			// bytes, so only the parser can see them; Nix refuses such
			// a NAR (it hashes only up to the root node's end).
			name: "trailing bytes after the NAR's root node, covered by NarHash and NarSize",
			break_: func(t *testing.T, dir string) {
				appendToNAR(t, dir, data, []byte("trailer"))
			},
			warning: `^` + data + `: corrupt NAR nar/trailing\.nar: invalid NAR: 7 more bytes after the end of its root node; treating it as missing$`,
			missing: []string{data, top},
		},
		{
			name: "narinfo missing: a cache miss, no warning for it",
			break_: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, narinfo.HashPart(data)+".narinfo")); err != nil {
					t.Fatal(err)
				}
			},
			warning: top + `: not restored, its reference ` + data + ` is not available from the cache`,
			missing: []string{data, top},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := exec.Command("cp", "-a", clean+"/.", dir).Run(); err != nil {
				t.Fatal(err)
			}
			tt.break_(t, dir)
			opts := Options{RetryDelay: time.Millisecond}
			if tt.trusted != "" {
				opts.TrustedKeys = []string{tt.trusted}
			}
			root := emptyStore(t)
			storeDir := filepath.Join(root, "nix", "store")
			// The whole closure, as the build pipeline asks for it: with
			// only top, paths below a refused one would not be looked up.
			res, err := openCache(t, "file://"+dir, opts).Fetch(ctx(t), f.closure, chrootStore(t, root))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(res.Warnings, regexp.MustCompile(tt.warning).MatchString) {
				t.Errorf("warnings %q, want one matching %q", res.Warnings, tt.warning)
			}
			want := slices.Clone(tt.missing)
			slices.Sort(want)
			if !slices.Equal(res.Missing, want) {
				t.Errorf("missing %v, want %v", res.Missing, want)
			}
			assertStoreHolds(t, storeDir, res, without(f.closure, tt.missing...))
			if len(res.Installed) > 0 {
				register(t, root, res.Installed)
				checkStore(t, root, f, without(f.closure, tt.missing...))
			}
		})
	}
}

// appendToNAR stores p's NAR in dir uncompressed as nar/trailing.nar with
// extra appended, and rewrites its (unsigned) narinfo to match: NarHash
// and NarSize cover extra, FileHash and FileSize are dropped.
func appendToNAR(t testing.TB, dir, p string, extra []byte) {
	t.Helper()
	packed, err := os.ReadFile(narFile(t, dir, p))
	if err != nil {
		t.Fatal(err)
	}
	dec, _, err := nar.Decompress("zstd", bytes.NewReader(packed))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(dec)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, extra...)
	if err := os.WriteFile(filepath.Join(dir, "nar", "trailing.nar"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	editNarinfo(t, dir, p, func(s string) string {
		for _, r := range []struct{ re, to string }{
			{`(?m)^URL: .*$`, "URL: nar/trailing.nar"},
			{`(?m)^Compression: .*$`, "Compression: none"},
			{`(?m)^File(Hash|Size): .*\n`, ""},
			{`(?m)^Sig: .*\n`, ""},
			{`(?m)^NarHash: .*$`, "NarHash: " + narinfo.FormatSHA256(sum[:])},
			{`(?m)^NarSize: .*$`, "NarSize: " + strconv.Itoa(len(data))},
		} {
			s = regexp.MustCompile(r.re).ReplaceAllString(s, r.to)
		}
		return s
	})
}

// flipByte inverts one byte at the given fraction of the file's length.
func flipByte(t testing.TB, file string, at float64) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data[int(float64(len(data))*at)] ^= 0xff
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// faultyServer serves a cache directory over HTTP, first failing requests as
// fail says: it returns the status to send, 0 to cut the connection halfway
// through the body, or -1 to serve normally. A test double stands in for a
// flaky server here because no real one fails on cue.
func faultyServer(t testing.TB, dir string, fail func(key string, n int) int) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	count := map[string]int{}
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/")
		mu.Lock()
		count[key]++
		n := count[key]
		mu.Unlock()
		switch status := fail(key, n); status {
		case -1:
			files.ServeHTTP(w, r)
		case 0:
			data, err := os.ReadFile(filepath.Join(dir, key))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			http.Error(w, "SlowDown", status)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchOverFlakyHTTP(t *testing.T) {
	f := buildFixture(t)
	dir := pushedCache(t, f, nil)
	data, top := f.pathNamed(t, "data"), f.pathNamed(t, "top")
	dataNAR, _ := filepath.Rel(dir, narFile(t, dir, data))

	t.Run("503 a few times, then OK", func(t *testing.T) {
		srv := faultyServer(t, dir, func(key string, n int) int {
			if n <= 2 {
				return http.StatusServiceUnavailable
			}
			return -1
		})
		root := emptyStore(t)
		res, err := openCache(t, srv.URL, Options{RetryDelay: time.Millisecond}).Fetch(ctx(t), []string{top}, chrootStore(t, root))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) != 0 || len(res.Missing) != 0 {
			t.Fatalf("fetch: %+v", res)
		}
		assertStoreHolds(t, root+"/nix/store", res, f.closure)
		register(t, root, res.Installed)
		checkStore(t, root, f, f.closure)
	})
	t.Run("connection cut mid-transfer once", func(t *testing.T) {
		srv := faultyServer(t, dir, func(key string, n int) int {
			if key == filepath.ToSlash(dataNAR) && n == 1 {
				return 0
			}
			return -1
		})
		root := emptyStore(t)
		res, err := openCache(t, srv.URL, Options{RetryDelay: time.Millisecond}).Fetch(ctx(t), []string{top}, chrootStore(t, root))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) != 0 || len(res.Missing) != 0 {
			t.Fatalf("fetch: %+v", res)
		}
		assertStoreHolds(t, root+"/nix/store", res, f.closure)
	})
	t.Run("server dies mid-transfer every time", func(t *testing.T) {
		srv := faultyServer(t, dir, func(key string, n int) int {
			if key == filepath.ToSlash(dataNAR) {
				return 0
			}
			return -1
		})
		root := emptyStore(t)
		res, err := openCache(t, srv.URL, Options{RetryDelay: time.Millisecond}).Fetch(ctx(t), []string{top}, chrootStore(t, root))
		if err != nil {
			t.Fatal(err)
		}
		want := data + `: giving up after 4 attempts: download of ` + regexp.QuoteMeta(dataNAR) + ` interrupted`
		if !slices.ContainsFunc(res.Warnings, regexp.MustCompile(want).MatchString) {
			t.Errorf("warnings %q, want one matching %q", res.Warnings, want)
		}
		if !slices.Equal(res.Missing, []string{data, top}) && !slices.Equal(res.Missing, []string{top, data}) {
			t.Errorf("missing %v", res.Missing)
		}
		assertStoreHolds(t, root+"/nix/store", res, without(f.closure, data, top))
	})
	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		root := emptyStore(t)
		start := time.Now()
		res, err := openCache(t, "http://"+addr+"/cache", Options{}).Fetch(ctx(t), []string{top}, chrootStore(t, root))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "is not usable") ||
			!strings.Contains(res.Warnings[0], "connection refused") || !slices.Equal(res.Missing, []string{top}) {
			t.Fatalf("fetch: %+v", res)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("giving up on an unreachable cache took %s", d)
		}
		assertStoreHolds(t, root+"/nix/store", res, nil)
	})
}

func TestVerifyFindsBadEntries(t *testing.T) {
	f := buildFixture(t)
	sk, pub := keyPair(t, "verify-1")
	dir := pushedCache(t, f, sk)
	data, app, lib := f.pathNamed(t, "data"), f.pathNamed(t, "app"), f.pathNamed(t, "lib")
	flipByte(t, narFile(t, dir, data), 0.5)
	editNarinfo(t, dir, app, func(s string) string {
		return regexp.MustCompile(`(?m)^Sig: .*\n`).ReplaceAllString(s, "")
	})
	if err := os.Remove(filepath.Join(dir, narinfo.HashPart(lib)+".narinfo")); err != nil {
		t.Fatal(err)
	}
	var last Progress
	c := openCache(t, "file://"+dir, Options{TrustedKeys: []string{pub}, Progress: func(p Progress) { last = p }})
	vr, err := c.Verify(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range vr.Bad {
		got[p.StorePath] += p.Reason + ";"
	}
	if len(got) != 2 || !regexp.MustCompile("corrupt NAR|NAR hash mismatch").MatchString(got[data]) ||
		!strings.Contains(got[app], "not signed by a trusted key") || !strings.Contains(got[app], "its reference "+lib+" has no narinfo") {
		t.Fatalf("verify: %+v", vr.Bad)
	}
	if vr.Checked != len(f.closure)-1 || last.Op != "verify" || last.PathsDone != vr.Checked {
		t.Fatalf("verify: %+v, last progress %+v", vr, last)
	}
}
