package fileserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const (
	siteHash = "0123456789abcdfghijklmnpqrsvwxyz"
	libHash  = "zyxwvsrqpnmlkjihgfdcba9876543210"
)

// site makes a store (a directory of store paths) with a site whose
// public/ directory is served, a library path it links to, and files
// outside the store; it returns the store's parent and the served dir.
func site(t *testing.T) (tmp, public string) {
	t.Helper()
	tmp = t.TempDir()
	store := filepath.Join(tmp, "store")
	public = filepath.Join(store, siteHash+"-site", "public")
	files := map[string]string{
		"store/" + siteHash + "-site/public/index.html":   "<h1>home</h1>",
		"store/" + siteHash + "-site/public/a/x.txt":      "x in a",
		"store/" + siteHash + "-site/public/b/index.html": "<h1>b</h1>",
		"store/" + siteHash + "-site/public/noext":        "<html><script>alert(document.cookie)</script></html>",
		"store/" + siteHash + "-site/public/style.css":    "body{}",
		"store/" + siteHash + "-site/public/.hidden":      "dotfile",
		"store/" + siteHash + "-site/private.txt":         "same store path, outside public/",
		"store/" + libHash + "-lib/f.txt":                 "from another path of the closure",
		"secret":                                          "root:outside the store",
		"outside/secret":                                  "outside the store too",
	}
	for p, c := range files {
		p = filepath.Join(tmp, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{
		"link-in":        "a/x.txt",
		"link-store":     "../../" + libHash + "-lib/f.txt",
		"link-store-abs": filepath.Join(store, libHash+"-lib/f.txt"),
		"link-up":        "../private.txt",
		"link-out":       filepath.Join(tmp, "secret"),
		"link-out-rel":   "../../../secret",
		"link-dir-out":   filepath.Join(tmp, "outside"),
		"link-etc":       "/etc/passwd",
		"loop":           "loop",
	} {
		if err := os.Symlink(target, filepath.Join(public, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(public, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return tmp, public
}

// start serves dir with lim on a loopback port until the test ends.
func start(t *testing.T, dir string, lim Limits, state func(net.Conn, http.ConnState)) (*Server, string) {
	t.Helper()
	s, err := New(dir, lim)
	if err != nil {
		t.Fatal(err)
	}
	s.ConnState = state
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		_ = s.Shutdown(context.Background())
		_ = l.Close()
		<-done
	})
	return s, l.Addr().String()
}

// raw sends one request line as it is (no client-side cleaning) and
// returns the response.
func raw(t *testing.T, addr, method, target string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method, target)
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// TestServe is issue 21, rows 5-7: a directory without index.html is a
// 404, not a listing; a symlink is followed only to the served tree or the
// store (the closure); a file's type comes from its extension alone, an
// unknown one is application/octet-stream, and every answer says nosniff.
func TestServe(t *testing.T) {
	_, public := site(t)
	_, addr := start(t, public, Limits{}, nil)
	tests := []struct {
		method, target string
		status         int
		body, ctype    string // body: a substring, "" for any
		location       string
	}{
		{"GET", "/", 200, "<h1>home</h1>", "text/html; charset=utf-8", ""},
		{"HEAD", "/", 200, "", "text/html; charset=utf-8", ""},
		{"GET", "/index.html", 200, "<h1>home</h1>", "text/html; charset=utf-8", ""},
		{"GET", "/b", 301, "", "", "/b/"},
		{"GET", "/b?v=1", 301, "", "", "/b/?v=1"},
		{"GET", "/b/", 200, "<h1>b</h1>", "text/html; charset=utf-8", ""},
		{"GET", "/a/", 404, "404 page not found", "", ""}, // row 5: no listing
		{"GET", "/a/x.txt", 200, "x in a", "text/plain; charset=utf-8", ""},
		{"GET", "/noext", 200, "alert", "application/octet-stream", ""}, // row 7
		{"GET", "/style.css", 200, "body{}", "text/css; charset=utf-8", ""},
		{"GET", "/.hidden", 200, "dotfile", "application/octet-stream", ""},
		{"GET", "/link-in", 200, "x in a", "application/octet-stream", ""},
		{"GET", "/link-store", 200, "from another path of the closure", "application/octet-stream", ""},
		{"GET", "/link-store-abs", 200, "from another path of the closure", "application/octet-stream", ""},
		{"GET", "/link-up", 200, "same store path", "application/octet-stream", ""},
		{"GET", "/link-out", 404, "", "", ""}, // row 6
		{"GET", "/link-out-rel", 404, "", "", ""},
		{"GET", "/link-dir-out/secret", 404, "", "", ""},
		{"GET", "/link-etc", 404, "", "", ""},
		{"GET", "/loop", 404, "", "", ""},
		{"GET", "/fifo", 404, "", "", ""}, // opening it would block
		{"GET", "/../../../secret", 404, "", "", ""},
		{"GET", "/%2e%2e/%2e%2e/%2e%2e/secret", 404, "", "", ""},
		{"GET", "/nothing", 404, "", "", ""},
		{"GET", "/a/..", 301, "", "", "/"},
		{"POST", "/", 405, "", "", ""},
		{"DELETE", "/index.html", 405, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			resp, body := raw(t, addr, tt.method, tt.target)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tt.status, body)
			}
			if tt.body != "" && !strings.Contains(body, tt.body) {
				t.Errorf("body %q, want it to hold %q", body, tt.body)
			}
			if tt.ctype != "" && resp.Header.Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.ctype)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			if tt.location != "" && resp.Header.Get("Location") != tt.location {
				t.Errorf("Location %q, want %q", resp.Header.Get("Location"), tt.location)
			}
			for _, leak := range []string{"x.txt", "outside the store", "root:"} {
				if tt.status != 200 && strings.Contains(body, leak) {
					t.Errorf("a %d answer shows %q: %q", resp.StatusCode, leak, body)
				}
			}
		})
	}
}

// TestServeCaching: store files all have mtime 1, so no Last-Modified (a
// browser would keep a changed file forever); the ETag changes with the
// store path and answers If-None-Match.
func TestServeCaching(t *testing.T) {
	_, public := site(t)
	_, addr := start(t, public, Limits{}, nil)
	resp, err := http.Get("http://" + addr + "/style.css")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Last-Modified") != "" {
		t.Fatalf("ETag %q, Last-Modified %q: want an ETag and no Last-Modified", etag, resp.Header.Get("Last-Modified"))
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/style.css", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
	resp, err = http.Get("http://" + addr + "/b/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if other := resp.Header.Get("ETag"); other == etag || other == "" {
		t.Fatalf("ETag of another file %q, first %q", other, etag)
	}
}

func TestStoreOf(t *testing.T) {
	for dir, want := range map[string]string{
		"/nix/store/" + siteHash + "-site/public":  "/nix/store",
		"/app/.nixs/" + siteHash + "-site":         "/app/.nixs",
		"/tmp/abcde/" + siteHash + "-site/a/b/c":   "/tmp/abcde",
		"/srv/www":                                 "",
		"/nix/store/" + siteHash[:31] + "-short/x": "",
	} {
		if got := StoreOf(dir); got != want {
			t.Errorf("StoreOf(%s) = %q, want %q", dir, got, want)
		}
	}
}
