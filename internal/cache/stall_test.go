package cache

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// stallingServer serves a cache directory over HTTP; a request for which
// stall(key, n) (n counts the requests for key) returns a non-negative
// number gets that many bytes of the file, sent at once, and then nothing
// more: the connection stays open until the client gives up or the test
// ends. A test double: no real server stalls on cue.
func stallingServer(t testing.TB, dir string, stall func(key string, n int) int) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	count := map[string]int{}
	release := make(chan struct{})
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/")
		mu.Lock()
		count[key]++
		n := count[key]
		mu.Unlock()
		first := stall(key, n)
		if first < 0 {
			files.ServeHTTP(w, r)
			return
		}
		data, err := os.ReadFile(filepath.Join(dir, key))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if first > 0 {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(data[:min(first, len(data))])
			w.(http.Flusher).Flush()
		}
		select { // 0: not even the headers
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: no handler blocks Close
	return srv
}

// TestFetchStalledDownload: a cache that stops sending (after the headers
// and some bytes of a NAR, or before any header) must not hang the restore
// (issue 21, row 8): the download is abandoned after the stall timeout,
// retried, and the path is missing (so it is built) when it stalls every
// time. Without the timeout, Fetch would wait forever: the test bounds the
// wait generously and fails, rather than hang, on a regression.
func TestFetchStalledDownload(t *testing.T) {
	f := buildFixture(t)
	dir := pushedCache(t, f, nil)
	data, top := f.pathNamed(t, "data"), f.pathNamed(t, "top")
	dataNAR, _ := filepath.Rel(dir, narFile(t, dir, data))
	dataNAR = filepath.ToSlash(dataNAR)
	dataInfo := narinfo.HashPart(data) + ".narinfo"

	tests := []struct {
		name    string
		stall   func(key string, n int) int
		warning string // "": none, the closure is restored whole
	}{
		{name: "NAR stalls after its first bytes once, then is served",
			stall: func(key string, n int) int {
				if key == dataNAR && n == 1 {
					return 64
				}
				return -1
			}},
		{name: "narinfo stalls before its headers once, then is served",
			stall: func(key string, n int) int {
				if key == dataInfo && n == 1 {
					return 0
				}
				return -1
			}},
		{name: "NAR stalls after its first bytes every time",
			stall: func(key string, n int) int {
				if key == dataNAR {
					return 64
				}
				return -1
			},
			warning: `^` + data + `: giving up after 2 attempts: download of ` + regexp.QuoteMeta(dataNAR) +
				` interrupted after 64 bytes: stalled: no data received for 1s \(BP_NIX_STALLED_DOWNLOAD_TIMEOUT\); treating it as missing$`},
		{name: "NAR sends no headers, every time",
			stall: func(key string, n int) int {
				if key == dataNAR {
					return 0
				}
				return -1
			},
			warning: `^` + data + `: giving up after 2 attempts: GET ` + regexp.QuoteMeta(dataNAR) +
				`: stalled: no data received for 1s \(BP_NIX_STALLED_DOWNLOAD_TIMEOUT\); treating it as missing$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := stallingServer(t, dir, tt.stall)
			root := emptyStore(t)
			c := openCache(t, srv.URL, Options{RetryDelay: time.Millisecond, Attempts: 2, StallTimeout: time.Second})
			type result struct {
				res *FetchResult
				err error
			}
			done := make(chan result, 1)
			store := chrootStore(t, root)
			go func() {
				res, err := c.Fetch(ctx(t), f.closure, store)
				done <- result{res, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(3 * time.Minute): // a hang, not a slow machine
				t.Fatal("Fetch still waiting on a stalled cache after 3 minutes")
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			res := r.res
			if tt.warning == "" {
				if len(res.Warnings) != 0 || len(res.Missing) != 0 {
					t.Fatalf("fetch: warnings %q, missing %v", res.Warnings, res.Missing)
				}
				assertStoreHolds(t, root+"/nix/store", res, f.closure)
				register(t, root, res.Installed)
				checkStore(t, root, f, f.closure)
				return
			}
			if !slices.ContainsFunc(res.Warnings, regexp.MustCompile(tt.warning).MatchString) {
				t.Errorf("warnings %q, want one matching %q", res.Warnings, tt.warning)
			}
			if want := []string{data, top}; !slices.Equal(res.Missing, slices.Sorted(slices.Values(want))) {
				t.Errorf("missing %v, want %v", res.Missing, want)
			}
			assertStoreHolds(t, root+"/nix/store", res, without(f.closure, data, top))
		})
	}
}
