// Package nixpkgs unpacks a <nixpkgs> tarball (a channel's nixexprs.tar.xz,
// a GitHub archive, a file:// tarball) into the Nix store natively, where
// Nix would unpack it: the store path "source" made from the tree's NAR
// hash. Nix then evaluates <nixpkgs> from that path instead of downloading
// and unpacking the tarball itself, which through proot costs a ptrace
// round trip for every one of its tens of thousands of files. Like Nix's
// tarball cache, a fetched tarball is reused for tarball-ttl (an hour)
// and then revalidated with its ETag; a file:// tarball is reused while its
// size and time are the same, or when it is gone.
package nixpkgs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// TTL is how long a fetched tarball is used without asking its server
// again: Nix's tarball-ttl default.
const TTL = time.Hour

// Store is the Nix store the tarball is unpacked into.
type Store interface {
	// Dir is the directory holding the store paths.
	Dir() string
	// Valid says which paths the Nix database holds as valid.
	Valid(paths []string) (map[string]bool, error)
	// Register records paths already in the store as valid.
	Register(infos []narinfo.PathInfo) error
}

// Result is what Fetch did.
type Result struct {
	// StorePath is the unpacked <nixpkgs>.
	StorePath string
	// Reused says no download was needed (within TTL, not modified, or a
	// file:// tarball unchanged or gone).
	Reused bool
	// Why says why it was reused or fetched, for the log.
	Why string
	// Bytes is what was downloaded.
	Bytes int64
	// Elapsed is the time it took.
	Elapsed time.Duration
}

// record is what stateFile keeps about the last tarball unpacked.
type record struct {
	URL          string    `json:"url"`
	StorePath    string    `json:"storePath"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"lastModified,omitempty"`
	Size         int64     `json:"size,omitempty"`
	ModTime      time.Time `json:"modTime,omitempty"`
	Checked      time.Time `json:"checked"`
}

// Fetch makes the tarball at rawURL (http, https or file) a valid store
// path of store, downloading and unpacking it unless stateFile's record
// says the one unpacked before is still current.
func Fetch(ctx context.Context, store Store, rawURL, stateFile string, connectTimeout time.Duration) (*Result, error) {
	start := time.Now()
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") {
		return nil, fmt.Errorf("%s is not an http, https or file URL", rawURL)
	}
	old := readRecord(stateFile, rawURL, store)
	res, rec, err := get(ctx, u, old, connectTimeout, store)
	if err != nil {
		return nil, err
	}
	rec.URL, rec.Checked = rawURL, time.Now()
	if err := writeRecord(stateFile, rec); err != nil {
		return nil, err
	}
	res.StorePath, res.Elapsed = rec.StorePath, time.Since(start)
	return res, nil
}

// get reuses old when it is current, else downloads and installs the
// tarball.
func get(ctx context.Context, u *url.URL, old *record, connectTimeout time.Duration, store Store) (*Result, record, error) {
	if u.Scheme == "file" {
		fi, err := os.Stat(u.Path)
		switch {
		case err != nil && old != nil:
			return &Result{Reused: true, Why: "the tarball is gone; the copy unpacked before is kept"}, *old, nil
		case err != nil:
			return nil, record{}, fmt.Errorf("unable to read %s\n%w", u.Path, err)
		case old != nil && old.Size == fi.Size() && old.ModTime.Equal(fi.ModTime()):
			return &Result{Reused: true, Why: "the tarball is unchanged"}, *old, nil
		}
		f, err := os.Open(u.Path)
		if err != nil {
			return nil, record{}, fmt.Errorf("unable to read %s\n%w", u.Path, err)
		}
		defer f.Close()
		info, err := install(f, store)
		if err != nil {
			return nil, record{}, err
		}
		return &Result{Why: "unpacked", Bytes: fi.Size()}, record{StorePath: info.StorePath, Size: fi.Size(), ModTime: fi.ModTime()}, nil
	}
	if old != nil && time.Since(old.Checked) < TTL {
		return &Result{Reused: true, Why: fmt.Sprintf("fetched %s ago, within tarball-ttl", time.Since(old.Checked).Round(time.Second))}, *old, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, record{}, err
	}
	if old != nil && old.ETag != "" {
		req.Header.Set("If-None-Match", old.ETag)
	} else if old != nil && old.LastModified != "" {
		req.Header.Set("If-Modified-Since", old.LastModified)
	}
	resp, err := client(connectTimeout).Do(req)
	if err != nil {
		return nil, record{}, fmt.Errorf("unable to download <nixpkgs>\n%w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && old != nil:
		return &Result{Reused: true, Why: "not modified on the server"}, *old, nil
	case resp.StatusCode != http.StatusOK:
		return nil, record{}, fmt.Errorf("unable to download <nixpkgs>: HTTP %s", resp.Status)
	}
	body := &countingReader{r: resp.Body}
	info, err := install(body, store)
	if err != nil {
		return nil, record{}, err
	}
	return &Result{Why: "downloaded and unpacked", Bytes: body.n},
		record{StorePath: info.StorePath, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}, nil
}

// install unpacks the tarball into the store and registers it, unless
// that store path is valid already.
func install(r io.Reader, store Store) (*narinfo.PathInfo, error) {
	u, err := unpack(r, store.Dir())
	if err != nil {
		return nil, err
	}
	defer tree.Remove(u.tmp)
	dst := filepath.Join(store.Dir(), filepath.Base(u.info.StorePath))
	valid, err := store.Valid([]string{u.info.StorePath})
	if err != nil {
		return nil, err
	}
	if valid[u.info.StorePath] {
		return &u.info, nil
	}
	if _, err := os.Lstat(dst); err == nil {
		// Left by a Nix or a restore that did not register it: its
		// contents were never checked.
		if err := tree.Remove(dst); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(u.root, dst); err != nil {
		return nil, fmt.Errorf("unable to move <nixpkgs> into the store\n%w", err)
	}
	if err := sealTop(dst); err != nil {
		return nil, fmt.Errorf("unable to make %s read-only\n%w", dst, err)
	}
	if err := store.Register([]narinfo.PathInfo{u.info}); err != nil {
		return nil, err
	}
	return &u.info, nil
}

// readRecord returns the record of the last tarball unpacked from rawURL
// whose store path is still valid, or nil.
func readRecord(stateFile, rawURL string, store Store) *record {
	data, err := os.ReadFile(stateFile)
	if err != nil {
		return nil
	}
	var r record
	if json.Unmarshal(data, &r) != nil || r.URL != rawURL || !strings.HasPrefix(r.StorePath, narinfo.StoreDir+"/") {
		return nil
	}
	if valid, err := store.Valid([]string{r.StorePath}); err != nil || !valid[r.StorePath] {
		return nil
	}
	return &r
}

func writeRecord(stateFile string, r record) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(stateFile), 0o755); err != nil {
		return err
	}
	tmp := stateFile + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("unable to write %s\n%w", stateFile, err)
	}
	return os.Rename(tmp, stateFile)
}

// client downloads with Nix's connect-timeout and the user's proxy.
func client(connectTimeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: t}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Natively says whether <nixpkgs> tarballs are unpacked by the buildpack
// under a /nix strategy, and why: where it was measured faster than Nix
// unpacking them itself (go run ./bench/coldbuild -nixpkgs).
func Natively(strategy string) (bool, string) {
	switch strategy {
	case "proot":
		return true, "under proot, Nix would write every file of the tarball through ptrace"
	case "userns", "native":
		return true, "measured faster than Nix's own unpacking (bench/coldbuild -nixpkgs)"
	}
	return false, "not measured under " + strategy
}
