package substitute_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	gonar "github.com/nix-community/go-nix/pkg/nar"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/nixbuild"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/substitute"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

func TestMain(m *testing.M) {
	nixmount.MaybeRunChild()
	code := m.Run()
	testenv.RemoveNixClosure()
	os.Exit(code)
}

// key is a signing key Nix made, and its public half.
type key struct {
	secret *narinfo.SecretKey
	public string
}

func newKey(t *testing.T, name string) key {
	t.Helper()
	dir := t.TempDir()
	testenv.Nix(t, "", "nix-store", "--generate-binary-cache-key", name, dir+"/sec", dir+"/pub")
	sec, err := os.ReadFile(dir + "/sec")
	if err != nil {
		t.Fatal(err)
	}
	sk, err := narinfo.ParseSecretKey(string(sec))
	if err != nil {
		t.Fatal(err)
	}
	return key{secret: sk, public: sk.PublicKey()}
}

// installNix installs the buildpack's Nix from the tarball fixture into a
// fresh directory, with no substituters of its own.
func installNix(t *testing.T) nixinstall.Nix {
	t.Helper()
	tarball := testenv.NixTarball(t)
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(tarball), "nix-"), "-x86_64-linux.tar.xz")
	nix, err := nixinstall.Ensure(filepath.Join(t.TempDir(), "nix"), nixinstall.Tarball{Version: version, Checksum: "test",
		Open: func() (io.ReadCloser, error) { return os.Open(tarball) }}, nixmount.Auto, nixinstall.Conf{})
	if err != nil {
		t.Fatal(err)
	}
	return nix
}

// signCache pushes the fixture closure to a file:// cache signed by k and
// returns its directory.
func signCache(t *testing.T, f *testenv.Closure, k key) string {
	t.Helper()
	dir := t.TempDir()
	c, err := cache.Open(t.Context(), "file://"+dir, cache.Options{SecretKey: k.secret})
	if err != nil {
		t.Fatal(err)
	}
	dump := testenv.Nix(t, "", "nix-store", append([]string{"--store", f.Root, "--dump-db"}, f.Paths...)...)
	infos, err := narinfo.ParseRegistration(strings.NewReader(dump))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Push(t.Context(), infos, f.StoreDir())
	if err != nil || len(res.Failed) > 0 {
		t.Fatalf("push: %v %v", err, res)
	}
	return dir
}

// resign rewrites the narinfo of the fixture's path named name: its
// signatures removed, then signed by k when k is set.
func resign(t *testing.T, f *testenv.Closure, dir, name string, k *key) string {
	t.Helper()
	i := slices.IndexFunc(f.Paths, func(p string) bool { return strings.HasSuffix(p, "-"+name) })
	p := filepath.Join(dir, narinfo.HashPart(f.Paths[i])+".narinfo")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	e, err := narinfo.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	e.Signatures = nil
	if k != nil {
		sig, err := k.secret.Sign(e.Fingerprint())
		if err != nil {
			t.Fatal(err)
		}
		e.Signatures = []string{sig}
	}
	if err := os.WriteFile(p, []byte(e.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return f.Paths[i]
}

// TestUntrustedNeverInstalled substitutes the fixture closure's build (lib,
// data, app, top from busybox) into the buildpack's own Nix from a signed
// file:// cache, with some narinfos unsigned or signed by a key that is not
// trusted. A path whose narinfo Nix would refuse is never written to the
// store (not even as a temporary tree), nor registered, and neither is a
// path that refers to it; Nix then builds what is left.
func TestUntrustedNeverInstalled(t *testing.T) {
	f := testenv.NixClosure(t)
	trusted, other := newKey(t, "trusted-1"), newKey(t, "other-1")
	nix := installNix(t)
	app := config.App{Dir: f.Src, NixFile: "default.nix"}
	drv, err := nixbuild.Instantiate(nix, app)
	if err != nil {
		t.Fatal(err)
	}
	byName := func(name string) string {
		return f.Paths[slices.IndexFunc(f.Paths, func(p string) bool { return strings.HasSuffix(p, "-"+name) })]
	}
	built := []string{byName("lib"), byName("data"), byName("app"), byName("top")}

	tests := []struct {
		name string
		// edit changes the signed cache; query is added to its URL.
		edit  func(dir string)
		query string
		keys  []string
		// want are the paths installed; the rest of built must be absent.
		want []string
		log  string
	}{
		{name: "all signed by a trusted key", keys: []string{trusted.public}, want: built},
		{name: "no trusted key: require-sigs refuses all", want: nil, log: "no trusted public key is set"},
		{name: "no trusted key, but the URL says trusted=1", query: "?trusted=1", want: built},
		{
			name: "data unsigned, app signed by another key",
			edit: func(dir string) { resign(t, f, dir, "data", nil); resign(t, f, dir, "app", &other) },
			keys: []string{trusted.public},
			// top is held but refers to app and data: it cannot be
			// installed without them, so it is built, as is app; lib,
			// app's input, comes.
			want: []string{byName("lib")},
			log:  "is not signed, and trusted keys are set",
		},
		{
			name: "top signed by another key: its inputs come, it is built",
			edit: func(dir string) { resign(t, f, dir, "top", &other) },
			keys: []string{trusted.public},
			want: []string{byName("app"), byName("data"), byName("lib")},
			log:  "is not signed by any trusted key (signatures: other-1)",
		},
		{
			name: "a narinfo signed, then its NAR hash changed",
			edit: func(dir string) {
				p := filepath.Join(dir, narinfo.HashPart(byName("top"))+".narinfo")
				data, _ := os.ReadFile(p)
				e, _ := narinfo.Parse(data)
				e.NarHash = "sha256:0000000000000000000000000000000000000000000000000000"
				_ = os.WriteFile(p, []byte(e.String()), 0o644)
			},
			keys: []string{trusted.public},
			want: []string{byName("app"), byName("data"), byName("lib")},
			log:  "is not signed by any trusted key",
		},
		{
			name: "a narinfo signed by a trusted key, its NAR replaced by another path's",
			edit: func(dir string) {
				narOf := func(name string) string {
					data, _ := os.ReadFile(filepath.Join(dir, narinfo.HashPart(byName(name))+".narinfo"))
					e, _ := narinfo.Parse(data)
					return filepath.Join(dir, e.URL)
				}
				lib, _ := os.ReadFile(narOf("lib"))
				_ = os.WriteFile(narOf("data"), lib, 0o644)
			},
			keys: []string{trusted.public},
			// data's NAR is lib's: it does not hash to data's signed
			// NarHash, so data is not installed, nor top, which refers
			// to it; app and lib come.
			want: []string{byName("app"), byName("lib")},
			log:  "NAR size mismatch",
		},
		{
			name: "a narinfo signed by a trusted key, one byte of its NAR changed",
			edit: func(dir string) {
				// The same size, uncompressed: only the NAR hash can tell.
				// The narinfo's signature covers the NAR hash and size,
				// not its URL, compression or file hash, so it stays valid.
				var nar bytes.Buffer
				if err := gonar.DumpPath(&nar, filepath.Join(f.StoreDir(), filepath.Base(byName("data")))); err != nil {
					t.Fatal(err)
				}
				b := nar.Bytes()
				b[100000] ^= 0xff // inside data's 1 MiB file "random"
				if err := os.WriteFile(filepath.Join(dir, "nar", "tampered.nar"), b, 0o644); err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(dir, narinfo.HashPart(byName("data"))+".narinfo")
				data, _ := os.ReadFile(p)
				e, _ := narinfo.Parse(data)
				e.URL, e.Compression, e.FileHash, e.FileSize = "nar/tampered.nar", "none", "", 0
				_ = os.WriteFile(p, []byte(e.String()), 0o644)
			},
			keys: []string{trusted.public},
			want: []string{byName("app"), byName("lib")},
			log:  "NAR hash mismatch",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nix := installNix(t)
			if _, err := nixbuild.Instantiate(nix, app); err != nil {
				t.Fatal(err)
			}
			dir := signCache(t, f, trusted)
			if tc.edit != nil {
				tc.edit(dir)
			}
			var log bytes.Buffer
			subs, notes := substitute.Open(t.Context(), substitute.Config{Substituters: []string{"file://" + dir + tc.query}, TrustedPublicKeys: tc.keys}, &log)
			if len(notes) > 0 || len(subs) != 1 {
				t.Fatalf("Open: %v", notes)
			}
			storeDir := filepath.Join(nix.Dir, "store")
			res, err := substitute.Run(t.Context(), nix.Store(), subs, drv, &log)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("log:\n%s", log.String())
			slices.Sort(tc.want)
			if !slices.Equal(res.Installed, tc.want) && !(len(res.Installed) == 0 && len(tc.want) == 0) {
				t.Fatalf("installed %v, want %v", res.Installed, tc.want)
			}
			if tc.log != "" && !strings.Contains(log.String(), tc.log) {
				t.Fatalf("the log does not say %q", tc.log)
			}
			valid, err := nix.Store().Valid(built)
			if err != nil {
				t.Fatal(err)
			}
			temp := regexp.MustCompile(`^\..*\.tmp-[0-9a-f]{12}$`)
			entries, _ := os.ReadDir(storeDir)
			for _, e := range entries {
				if temp.MatchString(e.Name()) {
					t.Errorf("a temporary tree is left in the store: %s", e.Name())
				}
			}
			for _, p := range built {
				_, statErr := os.Lstat(filepath.Join(storeDir, filepath.Base(p)))
				want := slices.Contains(tc.want, p)
				if valid[p] != want || (statErr == nil) != want {
					t.Errorf("%s: valid %v, on disk %v; want both %v", p, valid[p], statErr == nil, want)
				}
			}
			// Nix builds what is left (it has no substituter here).
			out, err := nixbuild.Build(nix, app, nixbuild.Options{}, &log)
			if err != nil || out != byName("top") {
				t.Fatalf("nix-build after the substitution: %s, %v", out, err)
			}
		})
	}
}
