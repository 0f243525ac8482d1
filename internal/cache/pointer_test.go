package cache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPointers writes signed pointers for two apps and reads them back
// through each way a pointer can be wrong: swapped between apps, unsigned,
// signed by another key, edited after signing, malformed.
func TestPointers(t *testing.T) {
	const (
		digestA = "aaaa000000000000000000000000000000000000000000000000000000000000"
		digestB = "bbbb000000000000000000000000000000000000000000000000000000000000"
		outA    = "/nix/store/7zh0zg1dv0zq3ixm8c4iy0cx4hpk46ap-app-a"
		outB    = "/nix/store/10akjfjvqmvqh9lhfjwzdl3mb26pn6zk-app-b"
	)
	sk, pub := keyPair(t, "pointer-1")
	_, otherPub := keyPair(t, "pointer-other")
	dir := t.TempDir()
	signer := openCache(t, "file://"+dir, Options{SecretKey: sk})
	unsigned := openCache(t, "file://"+dir, Options{})
	if err := signer.WritePointer(ctx(t), digestA, outA); err != nil {
		t.Fatal(err)
	}
	if err := signer.WritePointer(ctx(t), digestB, outB); err != nil {
		t.Fatal(err)
	}
	file := func(digest string) string { return filepath.Join(dir, "nixbp", "source", digest+".json") }
	fileA, err := os.ReadFile(file(digestA))
	if err != nil {
		t.Fatal(err)
	}
	fileB, _ := os.ReadFile(file(digestB))
	write := func(data string) {
		if err := os.WriteFile(file(digestA), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	for _, tt := range []struct {
		name    string
		data    string // app A's pointer file; "" removes it
		trusted string
		want    string // output read, or "" for none
		err     string
	}{
		{name: "signed, trusted", data: string(fileA), trusted: pub, want: outA},
		{name: "signed, no trusted keys", data: string(fileA), want: outA},
		{name: "none", trusted: pub},
		{name: "swapped with app B's", data: string(fileB), trusted: pub, err: `answers source digest "` + digestB + `", not this one`},
		{name: "swapped, no trusted keys", data: string(fileB), err: `answers source digest "` + digestB + `"`},
		{name: "unsigned", data: `{"digest":"` + digestA + `","output":"` + outB + `"}`, trusted: pub, err: "is not signed, and trusted keys are set"},
		{name: "unsigned, no trusted keys", data: `{"digest":"` + digestA + `","output":"` + outB + `"}`, want: outB},
		{name: "signed by another key", data: string(fileA), trusted: otherPub, err: "is not signed by any trusted key (signatures: [pointer-1])"},
		{name: "output edited after signing", data: strings.Replace(string(fileA), outA, outB, 1), trusted: pub, err: "is not signed by any trusted key"},
		{name: "old pointer without digest", data: `{"output":"` + outA + `"}`, err: `answers source digest ""`},
		{name: "output not a store path", data: `{"digest":"` + digestA + `","output":"/etc"}`, err: "output: \"/etc\" is not a store path"},
		{name: "not JSON", data: `output=/nix/store/x`, err: "is not JSON"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.data == "" {
				_ = os.Remove(file(digestA))
			} else {
				write(tt.data)
			}
			c := unsigned
			if tt.trusted != "" {
				c = openCache(t, "file://"+dir, Options{TrustedKeys: []string{tt.trusted}})
			}
			p, err := c.ReadPointer(ctx(t), digestA)
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "nixbp/source/"+digestA+".json") {
					t.Fatalf("ReadPointer = %+v, %v; want an error naming the pointer and containing %q", p, err, tt.err)
				}
			case err != nil:
				t.Fatal(err)
			case tt.want == "" && p != nil, tt.want != "" && (p == nil || p.Output != tt.want):
				t.Fatalf("ReadPointer = %+v, want output %q", p, tt.want)
			}
		})
	}
}
