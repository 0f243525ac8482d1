package narinfo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

const (
	pA = "/nix/store/10prjn41hpmi7pjjf0d94dg3gzbzk00n-a"
	pB = "/nix/store/b8zzzm23p9pd6h8zbaiz806gqid7q81v-b"
	pD = "/nix/store/fh6jgl7yrz7k71801y8hh890x2g4vznc-b.drv"
	// one hash in the three encodings Nix prints
	hash16 = "1bb983bec9b7080aef08161b3ebfb1d78855076d9f4b0769827857bca5935381"
	hash32 = "sha256:10akjfjvqmvqh9lhfjwzdl3mb26pn6zkw6qn13phl25pr6z87f8v"
)

func TestParseRegistration(t *testing.T) {
	tests := []struct {
		name, in string
		want     []PathInfo
		err      string
	}{
		{name: "empty", in: ""},
		{
			name: "base16 as nix-store --dump-db prints",
			in:   pB + "\n" + hash16 + "\n568\n" + pD + "\n2\n" + pA + "\n" + pB + "\n",
			want: []PathInfo{{StorePath: pB, NarHash: hash32, NarSize: 568, Deriver: pD, References: []string{pA, pB}}},
		},
		{
			name: "sha256:base32, no deriver, no references, no final newline",
			in:   pA + "\n" + hash32 + "\n0\n\n0",
			want: []PathInfo{{StorePath: pA, NarHash: hash32, NarSize: 0}},
		},
		{
			name: "two records",
			in:   pA + "\nsha256:" + hash16 + "\n1\n\n0\n" + pB + "\n" + hash16 + "\n2\n\n1\n" + pA + "\n",
			want: []PathInfo{
				{StorePath: pA, NarHash: hash32, NarSize: 1},
				{StorePath: pB, NarHash: hash32, NarSize: 2, References: []string{pA}},
			},
		},
		{name: "not a store path", in: "/tmp/x\n" + hash16 + "\n1\n\n0\n", err: "registration line 1: \"/tmp/x\" is not a store path"},
		{name: "bad hash", in: pA + "\nsha256:xyz\n1\n\n0\n", err: "registration line 2: invalid NAR hash"},
		{name: "md5 hash", in: pA + "\nmd5:d41d8cd98f00b204e9800998ecf8427e\n1\n\n0\n", err: "registration line 2: invalid NAR hash"},
		{name: "bad size", in: pA + "\n" + hash16 + "\nbig\n\n0\n", err: "registration line 3: NAR size must be a number, got \"big\""},
		{name: "bad deriver", in: pA + "\n" + hash16 + "\n1\nfoo.drv\n0\n", err: "registration line 4: deriver:"},
		{name: "bad count", in: pA + "\n" + hash16 + "\n1\n\n-1\n", err: "registration line 5: reference count must be a number"},
		{name: "truncated references", in: pA + "\n" + hash16 + "\n1\n\n2\n" + pB + "\n", err: "registration line 7: expected a reference, got end of input"},
		{name: "truncated record", in: pA + "\n" + hash16 + "\n", err: "registration line 3: expected a NAR size, got end of input"},
		{name: "bad reference", in: pA + "\n" + hash16 + "\n1\n\n1\n/nix/store/short\n", err: "registration line 6: reference:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRegistration(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestFormatRegistrationRefusesInvalid(t *testing.T) {
	for _, info := range []PathInfo{
		{StorePath: "/tmp/x", NarHash: hash32},
		{StorePath: pA, NarHash: "sha256:nope"},
		{StorePath: pA, NarHash: hash32, References: []string{"x"}},
	} {
		if err := FormatRegistration(&bytes.Buffer{}, []PathInfo{info}); err == nil {
			t.Errorf("FormatRegistration(%+v) succeeded", info)
		}
	}
}

// TestRegistrationMatchesNix checks both directions against Nix 2.8: our
// output of nix-store --dump-db's records is byte-identical to it, and Nix
// registers what we write (--register-validity --hash-given, --load-db)
// into a store that then verifies.
func TestRegistrationMatchesNix(t *testing.T) {
	f := testenv.NixClosure(t)
	dump := testenv.Nix(t, "", "nix-store", append([]string{"--store", f.Root, "--dump-db"}, f.Paths...)...)
	infos, err := ParseRegistration(strings.NewReader(dump))
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != len(f.Paths) {
		t.Fatalf("parsed %d records from --dump-db of %d paths", len(infos), len(f.Paths))
	}
	var out bytes.Buffer
	if err := FormatRegistration(&out, infos); err != nil {
		t.Fatal(err)
	}
	if out.String() != dump {
		t.Fatalf("FormatRegistration differs from nix-store --dump-db:\n%s\nwant:\n%s", out.String(), dump)
	}

	for name, register := range map[string]func(t testing.TB, root, reg string){
		// Where root/nix is mounted on /nix (a private mount namespace), as
		// the build pipeline registers: with --store root, Nix 2.8 fails on
		// paths not yet valid (it canonicalises them by their logical
		// /nix/store path, which is not where their files are).
		"register-validity": func(t testing.TB, root, reg string) {
			testenv.RequireUnshare(t)
			testenv.Nix(t, reg, "unshare", "--mount", "--propagation", "private", "sh", "-c",
				`mount --bind "$1" /nix && exec nix-store --register-validity --hash-given`, "sh", filepath.Join(root, "nix"))
		},
		// --load-db works with --store, as it does not touch files.
		"load-db": func(t testing.TB, root, reg string) {
			testenv.Nix(t, reg, "nix-store", "--store", root, "--load-db")
		},
	} {
		t.Run(name, func(t *testing.T) {
			root := testenv.EmptyStore(t)
			for _, p := range f.Paths {
				if err := exec.Command("cp", "-a", f.StoreDir()+"/"+p[len(StoreDir)+1:], root+"/nix/store/").Run(); err != nil {
					t.Fatal(err)
				}
			}
			register(t, root, out.String())
			testenv.CheckStore(t, root, f.Root, f.Paths)
			again := testenv.Nix(t, "", "nix-store", append([]string{"--store", root, "--dump-db"}, f.Paths...)...)
			if again != dump {
				t.Fatalf("--dump-db after registering differs:\n%s\nwant:\n%s", again, dump)
			}
		})
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveNixClosure()
	os.Exit(code)
}
