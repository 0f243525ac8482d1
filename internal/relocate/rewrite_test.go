package relocate

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"
)

func TestParsePrefix(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "/app/.nixs", want: "/app/.nixs"},
		{in: "/app/.nixs/", want: "/app/.nixs"},
		{in: "/a/.nixs", want: "/a///.nixs"},
		{in: "/tmp/abcde", want: "/tmp/abcde"},
		{in: "/x", want: "/////////x"},
		{in: "/home/vcap/app/.nixs", err: "is 20 bytes long; it must be at most 10"},
		{in: "app/.nixs", err: "must be an absolute path"},
		{in: "", err: "must be an absolute path"},
		{in: "/", err: "must not be /"},
		{in: "/nix/store", err: "overlaps /nix/store"},
		{in: "/nix", err: "overlaps /nix/store"},
	} {
		got, err := ParsePrefix(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParsePrefix(%q) = %q, %v; want error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want || len(got) != len(StoreDir) {
			t.Errorf("ParsePrefix(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestRewriterMatchesReplaceAll streams inputs through buffers of every
// small size, so that matches straddle buffer boundaries at every offset,
// and compares with bytes.ReplaceAll.
func TestRewriterMatchesReplaceAll(t *testing.T) {
	p := Prefix("/app/.nixs")
	inputs := []string{
		"",
		"/nix/store/",
		"#!/nix/store/abc-bash/bin/bash\nexec /nix/store/def-app/bin/app \"$@\"\n",
		"/nix/store/nix/store/nix/store/",
		"/nix/store/nix/store",
		"//nix/store//nix/store/x",
		"/nix/stor", "/nix/store", "x/nix/store/",
		strings.Repeat("a/nix/store/b", 50),
	}
	rnd := rand.New(rand.NewSource(1))
	alphabet := []string{"/", "nix", "/store", "/nix/store/", "s", "\x00"}
	for range 200 {
		var b strings.Builder
		for range rnd.Intn(40) {
			b.WriteString(alphabet[rnd.Intn(len(alphabet))])
		}
		inputs = append(inputs, b.String())
	}
	for _, in := range inputs {
		want := bytes.ReplaceAll([]byte(in), []byte("/nix/store/"), []byte("/app/.nixs/"))
		wantN := strings.Count(in, "/nix/store/")
		for size := 11; size <= 40; size++ {
			var out bytes.Buffer
			n, err := newRewriter(p, size).copy(&out, &oneByteReader{r: strings.NewReader(in), short: size%3 == 0})
			if err != nil || !bytes.Equal(out.Bytes(), want) || n != wantN {
				t.Fatalf("buffer %d: rewrite(%q) = %q (%d), %v; want %q (%d)", size, in, out.Bytes(), n, err, want, wantN)
			}
		}
	}
}

// oneByteReader returns short reads when short is set, as pipes do.
type oneByteReader struct {
	r     *strings.Reader
	short bool
}

func (o *oneByteReader) Read(p []byte) (int, error) {
	if o.short && len(p) > 1 {
		p = p[:len(p)/2]
	}
	return o.r.Read(p)
}
