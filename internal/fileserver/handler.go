package fileserver

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// files is the handler: GET and HEAD of regular files under root.
type files struct {
	root  string // resolved (no symlink in it)
	store string // resolved store directory holding root, or ""
	send  time.Duration
}

func newFiles(dir string) (*files, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("static directory %s does not exist\n%w", dir, err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("static directory %s is not a directory", dir)
	}
	f := &files{root: root}
	if s := StoreOf(dir); s != "" {
		if f.store, err = filepath.EvalSymlinks(s); err != nil {
			f.store = ""
		}
	}
	return f, nil
}

func (f *files) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	upath := r.URL.Path
	if !strings.HasPrefix(upath, "/") {
		upath = "/" + upath
	}
	clean := path.Clean(upath)
	name := clean // the type is the URL's, as nginx and Caddy do
	p, fi, err := f.resolve(clean)
	if err != nil {
		f.fail(w, r, err)
		return
	}
	if fi.IsDir() {
		if !strings.HasSuffix(upath, "/") {
			// As nginx and Caddy: a directory's URL ends with a slash,
			// so the relative links of its index resolve.
			redirect(w, r, strings.TrimSuffix(clean, "/")+"/")
			return
		}
		name = path.Join(clean, "index.html")
		if p, fi, err = f.resolve(name); err != nil {
			f.fail(w, r, err) // no index: 404, never a listing
			return
		}
	}
	file, err := os.Open(p)
	if err != nil {
		f.fail(w, r, err)
		return
	}
	defer file.Close()
	h.Set("Content-Type", contentType(name))
	// Store files all have mtime 1 (Nix's canonical mtime), so
	// Last-Modified would make a browser keep a changed file: the ETag
	// is the resolved path (a store path changes with its content) and
	// the size.
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d", p, fi.Size()))
	h.Set("ETag", `"`+base64.RawURLEncoding.EncodeToString(sum[:12])+`"`)
	http.ServeContent(&sendWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: f.send}, r, "", time.Time{}, file)
}

// resolve maps a cleaned URL path to the file it names, following
// symlinks only while they stay inside the served tree or the store.
func (f *files) resolve(clean string) (string, os.FileInfo, error) {
	full := filepath.Join(f.root, filepath.FromSlash(clean))
	real, err := filepath.EvalSymlinks(full)
	if err != nil { // missing, a loop, a file on the way: not found
		return "", nil, fmt.Errorf("%w: %v", os.ErrNotExist, err)
	}
	if !within(real, f.root) && (f.store == "" || !within(real, f.store)) {
		return "", nil, errOutside
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", nil, err
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return "", nil, fmt.Errorf("%s: %w", real, errNotRegular)
	}
	return real, fi, nil
}

func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

func (f *files) fail(w http.ResponseWriter, r *http.Request, err error) {
	if noSuchFile(err) {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	http.Error(w, "500 internal server error", http.StatusInternalServerError)
}

// redirect sends a 301 to a path on this server (cleaned: no "//host"
// form); no Host header is trusted.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	if q := r.URL.RawQuery; q != "" {
		to += "?" + q
	}
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusMovedPermanently)
}

// commonTypes are the types of common web files, the same on every image
// (Go's own table lacks some, and /etc/mime.types is not on every run
// image); nginx's mime.types agrees on each.
var commonTypes = map[string]string{
	".txt": "text/plain; charset=utf-8", ".ico": "image/x-icon", ".woff": "font/woff", ".woff2": "font/woff2",
	".ttf": "font/ttf", ".otf": "font/otf", ".map": "application/json", ".mp4": "video/mp4", ".webm": "video/webm",
	".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".zip": "application/zip", ".gz": "application/gzip",
	".tar": "application/x-tar", ".csv": "text/csv; charset=utf-8", ".wasm": "application/wasm",
	".xhtml": "application/xhtml+xml", ".rss": "application/rss+xml", ".atom": "application/atom+xml",
}

// contentType is the type of the file a URL path names by its extension
// alone, never by its content: an unknown extension is application/octet-stream (with
// nosniff, a browser downloads it rather than rendering it).
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := commonTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); ext != "" && t != "" {
		return t
	}
	return "application/octet-stream"
}

// sendWriter gives each write of the response Send to complete, as
// nginx's send_timeout bounds the time between two writes: a client that
// stops reading is disconnected, one that reads slowly is not.
type sendWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (s *sendWriter) Write(p []byte) (int, error) {
	if s.timeout > 0 {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	}
	return s.ResponseWriter.Write(p)
}

// ReadFrom keeps sendfile for files (http.ServeContent copies an
// *io.LimitedReader of the file): one chunk per deadline.
func (s *sendWriter) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := s.ResponseWriter.(io.ReaderFrom)
	lr, limited := r.(*io.LimitedReader)
	if !ok || !limited {
		return io.Copy(struct{ io.Writer }{s}, r)
	}
	const chunk = 1 << 20
	var total int64
	for lr.N > 0 {
		if s.timeout > 0 {
			_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
		}
		want := min(lr.N, chunk)
		n, err := rf.ReadFrom(&io.LimitedReader{R: lr.R, N: want})
		lr.N -= n
		total += n
		if err != nil || n < want {
			return total, err
		}
	}
	return total, nil
}
