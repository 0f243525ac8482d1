package cache

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// keyPair makes a signing key with Nix's own generator and returns the
// parsed secret key and the public key string.
func keyPair(t testing.TB, name string) (*narinfo.SecretKey, string) {
	t.Helper()
	sk, pub, _ := keyFiles(t, name)
	return sk, pub
}

// keyFiles is keyPair, with the file Nix wrote the secret key to.
func keyFiles(t testing.TB, name string) (*narinfo.SecretKey, string, string) {
	t.Helper()
	dir := t.TempDir()
	nix(t, "", "nix-store", "--generate-binary-cache-key", name, dir+"/sec", dir+"/pub")
	sec, err := os.ReadFile(dir + "/sec")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(dir + "/pub")
	if err != nil {
		t.Fatal(err)
	}
	sk, err := narinfo.ParseSecretKey(string(sec))
	if err != nil {
		t.Fatal(err)
	}
	if sk.PublicKey() != strings.TrimSpace(string(pub)) {
		t.Fatalf("public key %s derived from the secret key, Nix wrote %s", sk.PublicKey(), pub)
	}
	return sk, strings.TrimSpace(string(pub)), dir + "/sec"
}

func openCache(t testing.TB, url string, opts Options) *Cache {
	t.Helper()
	if opts.Log == nil {
		opts.Log = testLog{t}
	}
	c, err := Open(ctx(t), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testLog sends a cache's log lines to the test log.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestPushedCacheIsReadByNix(t *testing.T) {
	f := buildFixture(t)
	sk, pub := keyPair(t, "nixbp-test-1")
	dir := t.TempDir()
	c := openCache(t, "file://"+dir, Options{SecretKey: sk})
	res, err := c.Push(ctx(t), f.infos(t), f.storeDir())
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != len(f.closure) || res.Skipped != 0 || len(res.Failed) != 0 || len(res.Warnings) != 0 {
		t.Fatalf("push: %+v", res)
	}
	info, err := os.ReadFile(filepath.Join(dir, "nix-cache-info"))
	if err != nil || !strings.HasPrefix(string(info), "StoreDir: /nix/store\n") {
		t.Fatalf("nix-cache-info: %q, %v", info, err)
	}

	t.Run("nix copy --no-check-sigs", func(t *testing.T) {
		root := emptyStore(t)
		nix(t, "", "nix", "copy", "--from", "file://"+dir, "--to", root, "--no-check-sigs", f.top)
		checkStore(t, root, f, f.closure)
	})
	t.Run("nix copy with the trusted key", func(t *testing.T) {
		root := emptyStore(t)
		nix(t, "", "nix", "copy", "--from", "file://"+dir, "--to", root, "--option", "trusted-public-keys", pub, f.top)
		checkStore(t, root, f, f.closure)
	})
	t.Run("nix copy refuses another key", func(t *testing.T) {
		_, other := keyPair(t, "nixbp-test-other")
		root := emptyStore(t)
		out, err := nixRun("", "nix", "copy", "--from", "file://"+dir, "--to", root, "--option", "trusted-public-keys", other, f.top)
		if err == nil || !strings.Contains(err.Error(), "lacks a valid signature") {
			t.Fatalf("nix copy with an untrusted key: %v %s", err, out)
		}
	})
	t.Run("substituter", func(t *testing.T) {
		root := emptyStore(t)
		nix(t, "", "nix-store", "--store", root, "--realise", f.top,
			"--option", "substituters", "file://"+dir, "--option", "trusted-public-keys", pub)
		checkStore(t, root, f, f.closure)
	})
	t.Run("second push skips everything", func(t *testing.T) {
		res, err := c.Push(ctx(t), f.infos(t), f.storeDir())
		if err != nil {
			t.Fatal(err)
		}
		if res.Uploaded != 0 || res.Skipped != len(f.closure) {
			t.Fatalf("push: %+v", res)
		}
	})
}

func TestFetchFromNixWrittenCache(t *testing.T) {
	f := buildFixture(t)
	_, pub, keyFile := keyFiles(t, "nix-wrote-it")
	for _, compression := range []string{"zstd", "xz", "none"} {
		t.Run(compression, func(t *testing.T) {
			dir := t.TempDir()
			nix(t, "", "nix", "copy", "--from", f.root, "--to",
				"file://"+dir+"?compression="+compression+"&secret-key="+keyFile, f.top)
			root := emptyStore(t)
			c := openCache(t, "file://"+dir, Options{TrustedKeys: []string{pub}})
			res, err := c.Fetch(ctx(t), []string{f.top}, chrootStore(t, root))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Installed) != len(f.closure) || len(res.Missing) != 0 || len(res.Warnings) != 0 {
				t.Fatalf("fetch: %+v", res)
			}
			want := f.infos(t)
			byPath := map[string]narinfo.PathInfo{}
			for _, i := range res.Installed {
				byPath[i.StorePath] = i
			}
			for _, w := range want {
				got := byPath[w.StorePath]
				got.CA = "" // the Nix database has it, --dump-db does not print it
				if !reflect.DeepEqual(got, w) {
					t.Errorf("installed %+v\nwant %+v", got, w)
				}
			}
			register(t, root, res.Installed)
			checkStore(t, root, f, f.closure)
			compareTrees(t, f.storeDir(), filepath.Join(root, "nix", "store"), f.closure)
		})
	}
}

// compareTrees asserts that the store paths look the same in both store
// directories: types, modes, mtimes, symlink targets and contents.
func compareTrees(t testing.TB, wantDir, gotDir string, paths []string) {
	t.Helper()
	for _, p := range paths {
		base := filepath.Base(p)
		want, got := testenv.DescribeTree(t, filepath.Join(wantDir, base)), testenv.DescribeTree(t, filepath.Join(gotDir, base))
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s differs:\n got %v\nwant %v", p, got, want)
		}
	}
}
