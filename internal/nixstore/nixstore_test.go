package nixstore

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveNixClosure()
	os.Exit(code)
}

// TestHostStore queries the fixture closure's chroot store through the
// host's nix-store, then registers a copy of it in an empty store both
// ways (Register, and a Registration started before the files arrive):
// the copy then verifies and holds the same records.
func TestHostStore(t *testing.T) {
	f := testenv.NixClosure(t)
	src := Host(f.Root, nil)
	if src.Dir() != f.StoreDir() {
		t.Fatalf("Dir %s, want %s", src.Dir(), f.StoreDir())
	}
	closure, err := src.Requisites(f.Top)
	if err != nil || !slices.Equal(closure, f.Paths) {
		t.Fatalf("Requisites: %v, %v; want %v", closure, err, f.Paths)
	}
	infos, err := src.Infos(closure)
	if err != nil || len(infos) != len(closure) {
		t.Fatalf("Infos: %d records, %v", len(infos), err)
	}
	var top = infos[slices.IndexFunc(infos, func(i narinfo.PathInfo) bool { return i.StorePath == f.Top })]
	outputs, err := src.Outputs(top.Deriver)
	if err != nil || !slices.Equal(outputs, []string{f.Top}) {
		t.Fatalf("Outputs(%s): %v, %v", top.Deriver, outputs, err)
	}
	missing := "/nix/store/00000000000000000000000000000000-missing"
	valid, err := src.Valid([]string{f.Top, missing})
	if err != nil || len(valid) != 1 || !valid[f.Top] {
		t.Fatalf("Valid: %v, %v", valid, err)
	}

	for name, register := range map[string]func(Store) error{
		"Register": func(s Store) error { return s.Register(infos) },
		"Registration": func(s Store) error {
			r, err := s.StartRegistration()
			if err != nil {
				return err
			}
			return r.Finish(infos)
		},
	} {
		t.Run(name, func(t *testing.T) {
			root := testenv.EmptyStore(t)
			dst := Host(root, nil)
			if err := dst.Init(); err != nil {
				t.Fatal(err)
			}
			for _, p := range f.Paths {
				if out, err := exec.Command("cp", "-a", f.StoreDir()+"/"+strings.TrimPrefix(p, "/nix/store/"), dst.Dir()).CombinedOutput(); err != nil {
					t.Fatalf("cp: %v\n%s", err, out)
				}
			}
			if valid, err := dst.Valid(f.Paths); err != nil || len(valid) != 0 {
				t.Fatalf("before registering: valid %v, %v", valid, err)
			}
			if err := register(dst); err != nil {
				t.Fatal(err)
			}
			again, err := dst.AllInfos()
			if err != nil || len(again) != len(infos) {
				t.Fatalf("AllInfos after registering: %d records, %v", len(again), err)
			}
			if out, err := dst.VerifyContents(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			testenv.CheckStore(t, root, f.Root, f.Paths)
		})
	}
}

// TestErrorsCarryNixsMessage: a failing nix-store names its command and
// says what Nix said.
func TestErrorsCarryNixsMessage(t *testing.T) {
	testenv.RequireNix(t)
	_, err := Host(testenv.EmptyStore(t), nil).Infos([]string{"/nix/store/00000000000000000000000000000000-x"})
	if err == nil || !strings.Contains(err.Error(), "unable to run nix-store --dump-db") || !strings.Contains(err.Error(), "not valid") {
		t.Fatalf("error %v", err)
	}
}
