package cache

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/storedir"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// The tests run the host's Nix against chroot stores (testenv.Nix).

func nix(t testing.TB, stdin string, name string, args ...string) string {
	t.Helper()
	return testenv.Nix(t, stdin, name, args...)
}

func nixRun(stdin string, name string, args ...string) (string, error) {
	return testenv.NixRun(stdin, name, args...)
}

// fixture is a chroot store holding the fixture closure.
type fixture struct {
	src     string   // the expression's directory: default.nix and bb/
	root    string   // chroot store root: --store root
	top     string   // the top store path
	closure []string // sorted closure of top
}

func (f *fixture) storeDir() string { return filepath.Join(f.root, "nix", "store") }

// infos returns the closure's PathInfos as Nix's database has them.
func (f *fixture) infos(t testing.TB) []narinfo.PathInfo {
	t.Helper()
	dump := nix(t, "", "nix-store", append([]string{"--store", f.root, "--dump-db"}, f.closure...)...)
	infos, err := narinfo.ParseRegistration(strings.NewReader(dump))
	if err != nil {
		t.Fatal(err)
	}
	return infos
}

// buildFixture returns the shared fixture closure (testenv.NixClosure).
// Tests must not modify it; privateStore gives a private copy.
func buildFixture(t testing.TB) *fixture {
	t.Helper()
	c := testenv.NixClosure(t)
	return &fixture{src: c.Src, root: c.Root, top: c.Top, closure: c.Paths}
}

// emptyStore returns a fresh chroot store root with an empty store dir.
func emptyStore(t testing.TB) string { t.Helper(); return testenv.EmptyStore(t) }

// chrootStore is the chroot store root as Fetch installs into it: valid
// means valid in root's Nix database, as nix-store --check-validity says.
func chrootStore(t testing.TB, root string) storedir.Store {
	return nixstore.Host(root, nil)
}

// noneValid is a store directory whose database holds nothing.
type noneValid string

func (d noneValid) Dir() string                           { return string(d) }
func (noneValid) Valid([]string) (map[string]bool, error) { return nil, nil }

// register records infos as valid in the chroot store root the way the
// build pipeline will: nix-store --register-validity --hash-given, run where
// root/nix is mounted on /nix (a private mount namespace). With --store
// root, Nix 2.8 fails on paths not yet valid: it canonicalises them by their
// logical /nix/store path, which is not where their files are.
func register(t testing.TB, root string, infos []narinfo.PathInfo) {
	t.Helper()
	requireUnshare(t)
	var reg bytes.Buffer
	if err := narinfo.FormatRegistration(&reg, infos); err != nil {
		t.Fatal(err)
	}
	nix(t, reg.String(), "unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" /nix && exec nix-store --register-validity --hash-given`, "sh", filepath.Join(root, "nix"))
}

func requireUnshare(t testing.TB) { t.Helper(); testenv.RequireUnshare(t) }

// checkStore asserts that root's Nix database holds paths with the same
// NAR hashes as the fixture and that their contents verify.
func checkStore(t testing.TB, root string, f *fixture, paths []string) {
	t.Helper()
	testenv.CheckStore(t, root, f.root, paths)
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveNixClosure()
	os.Exit(code)
}

func ctx(t testing.TB) context.Context { return t.Context() }

// hash32 is a NAR hash as narinfos write it.
const hash32 = "sha256:10akjfjvqmvqh9lhfjwzdl3mb26pn6zkw6qn13phl25pr6z87f8v"
