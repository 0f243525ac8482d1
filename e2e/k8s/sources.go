package k8s

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// SourceServer serves app sources to the cluster from inside its network
// namespace, as a team's git host and artifact store would: git
// repositories over git's smart HTTP protocol (git http-backend, for kpack's
// git sources) and files (kpack's blob sources).
type SourceServer struct {
	// URL is http://<node address>:<port>, reachable from pods only.
	URL string
	// Git holds the bare repositories, served under URL/git/<name>.git.
	Git string
	// Blobs holds the files served under URL/blobs/.
	Blobs string
	l     net.Listener
}

// ServeSources starts a SourceServer on the node's address, with its
// repositories and files under dir.
func (c *Cluster) ServeSources(dir string) (*SourceServer, error) {
	s := &SourceServer{Git: filepath.Join(dir, "git"), Blobs: filepath.Join(dir, "blobs")}
	for _, d := range []string{s.Git, s.Blobs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	backend, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("unable to find git's exec path\n%w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/git/", http.StripPrefix("/git", &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(backend)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + s.Git, "GIT_HTTP_EXPORT_ALL=1"},
	}))
	mux.Handle("/blobs/", http.StripPrefix("/blobs/", http.FileServer(http.Dir(s.Blobs))))
	if s.l, err = c.Listen(); err != nil {
		return nil, err
	}
	s.URL = "http://" + s.l.Addr().String()
	go func() { _ = http.Serve(s.l, mux) }()
	return s, nil
}

// Close stops serving.
func (s *SourceServer) Close() { _ = s.l.Close() }

// Commit commits the tree at src (replacing the previous tree) to the bare
// repository <name>.git, made if need be, on branch main, and returns the
// commit's hash and the repository's URL. Symbolic links are committed as
// links, as a developer's checkout has them.
func (s *SourceServer) Commit(repo, src, message string) (commit, url string, err error) {
	bare := filepath.Join(s.Git, repo+".git")
	if _, err := os.Stat(bare); os.IsNotExist(err) {
		if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", bare).CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("git init %s: %v\n%s", bare, err, out)
		}
		// kpack resolves the revision to a commit, then fetches that
		// commit by its hash (go-git, depth 1): the server must allow it,
		// as GitHub and GitLab do ("server does not support exact SHA1
		// refspec" otherwise).
		if out, err := exec.Command("git", "--git-dir", bare, "config", "uploadpack.allowReachableSHA1InWant", "true").CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("git config %s: %v\n%s", bare, err, out)
		}
	}
	work, err := os.MkdirTemp("", "nixbp-k8s-git-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(work)
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", append([]string{"-c", "user.name=nixbp", "-c", "user.email=nixbp@example.invalid",
			"--git-dir", bare, "--work-tree", src}, args...)...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GIT_INDEX_FILE="+filepath.Join(work, "index"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	if _, err := git("add", "-A", "."); err != nil {
		return "", "", err
	}
	if _, err := git("commit", "-q", "--allow-empty", "-m", message); err != nil {
		return "", "", err
	}
	commit, err = git("rev-parse", "HEAD")
	return commit, s.URL + "/git/" + repo + ".git", err
}

// Blob writes the tree at src as a gzipped tarball named file and returns
// its URL. Symbolic links go in as links, as `tar -czf` puts them.
func (s *SourceServer) Blob(file, src string) (string, error) {
	f, err := os.Create(filepath.Join(s.Blobs, file))
	if err != nil {
		return "", err
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = rel
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			r, err := os.Open(p)
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.Copy(tw, r)
			return err
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return s.URL + "/blobs/" + file, f.Close()
}
