package narinfo

import (
	"reflect"
	"strings"
	"testing"
)

// nixNarinfo is a narinfo as Nix 2.8 writes it (nix copy --to file://...).
const nixNarinfo = `StorePath: /nix/store/b8zzzm23p9pd6h8zbaiz806gqid7q81v-bb
URL: nar/1sxndamr1k15yj1y03cbq12llgjwycda5vlyvxh3lhz1dn23k3kw.nar.zst
Compression: zstd
FileHash: sha256:1sxndamr1k15yj1y03cbq12llgjwycda5vlyvxh3lhz1dn23k3kw
FileSize: 1077756
NarHash: sha256:0m54h46i7lwk20d2vihhq0fq7ns5ypg44viy8bxxnfqpz3y9a10x
NarSize: 1982928
References: 
Sig: test1:QttpZZt5zeZ0i6JmaBc9nvnxPtMzI8a6FhVFEsE5joMfM5psBn3eWoDkwYOfMLcmgs4Nd6DMfG6MwWAuDRcQAw==
CA: fixed:r:sha256:0m54h46i7lwk20d2vihhq0fq7ns5ypg44viy8bxxnfqpz3y9a10x
`

func TestParse(t *testing.T) {
	bb := &NarInfo{
		PathInfo: PathInfo{
			StorePath: "/nix/store/b8zzzm23p9pd6h8zbaiz806gqid7q81v-bb",
			NarHash:   "sha256:0m54h46i7lwk20d2vihhq0fq7ns5ypg44viy8bxxnfqpz3y9a10x",
			NarSize:   1982928,
			CA:        "fixed:r:sha256:0m54h46i7lwk20d2vihhq0fq7ns5ypg44viy8bxxnfqpz3y9a10x",
		},
		URL:         "nar/1sxndamr1k15yj1y03cbq12llgjwycda5vlyvxh3lhz1dn23k3kw.nar.zst",
		Compression: "zstd",
		FileHash:    "sha256:1sxndamr1k15yj1y03cbq12llgjwycda5vlyvxh3lhz1dn23k3kw",
		FileSize:    1077756,
		Signatures:  []string{"test1:QttpZZt5zeZ0i6JmaBc9nvnxPtMzI8a6FhVFEsE5joMfM5psBn3eWoDkwYOfMLcmgs4Nd6DMfG6MwWAuDRcQAw=="},
	}
	withRefs := *bb
	withRefs.References = []string{pA, pB}
	withRefs.Deriver = pD
	withRefs.Signatures = nil
	withRefs.CA = ""
	tests := []struct {
		name, in string
		want     *NarInfo
		err      string
	}{
		{name: "written by Nix", in: nixNarinfo, want: bb},
		{name: "unknown fields are ignored", in: nixNarinfo + "Future: field\n", want: bb},
		{
			name: "no Compression means bzip2, unknown-deriver means none, References: without a space",
			in:   strings.NewReplacer("Compression: zstd\n", "", "References: \n", "References:\nDeriver: unknown-deriver\n").Replace(nixNarinfo),
			want: func() *NarInfo { e := *bb; e.Compression = "bzip2"; return &e }(),
		},
		{
			name: "references and deriver become full paths, sorted",
			in: strings.NewReplacer("References: \n", "References: b8zzzm23p9pd6h8zbaiz806gqid7q81v-b 10prjn41hpmi7pjjf0d94dg3gzbzk00n-a\nDeriver: fh6jgl7yrz7k71801y8hh890x2g4vznc-b.drv\n",
				"CA: fixed:r:sha256:0m54h46i7lwk20d2vihhq0fq7ns5ypg44viy8bxxnfqpz3y9a10x\n", "").Replace(withoutSig(nixNarinfo)),
			want: &withRefs,
		},
		{name: "a line that is not Key: value", in: nixNarinfo + "garbage\n", err: "is not a \"Key: value\" line"},
		{name: "bad signature", in: nixNarinfo + "Sig: k:notbase64\n", err: "invalid Sig"},
		{name: "bad deriver", in: nixNarinfo + "Deriver: x.drv\n", err: "invalid Deriver"},
		{name: "no NarHash", in: strings.Replace(nixNarinfo, "NarHash:", "NarHush:", 1), err: "NarHash must be a sha256 hash"},
		{name: "no URL", in: strings.Replace(nixNarinfo, "URL: nar/", "X: nar/", 1), err: "URL \"\" must be a path relative to the cache"},
		{name: "URL escaping the cache", in: strings.Replace(nixNarinfo, "URL: nar/", "URL: ../", 1), err: "must be a path relative"},
		{name: "bad store path", in: strings.Replace(nixNarinfo, "/nix/store/b8zz", "/usr/b8zz", 1), err: "invalid StorePath"},
		{name: "md5 NarHash", in: strings.Replace(nixNarinfo, "NarHash: sha256:0m54h46i7lwk20d2vihhq0fq7ns5ypg44viy8bxxnfqpz3y9a10x", "NarHash: md5:d41d8cd98f00b204e9800998ecf8427e", 1), err: "NarHash must be a sha256 hash"},
		{name: "bad size", in: strings.Replace(nixNarinfo, "NarSize: 1982928", "NarSize: lots", 1), err: "malformed narinfo"},
		{name: "bad reference", in: strings.Replace(nixNarinfo, "References: ", "References: nope", 1), err: "invalid Reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
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
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func withoutSig(s string) string {
	var out []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "Sig: ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

func TestStringIsNixs(t *testing.T) {
	e, err := Parse([]byte(nixNarinfo))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.String(); got != nixNarinfo {
		t.Fatalf("format:\n%s\nwant:\n%s", got, nixNarinfo)
	}
	again, err := Parse([]byte(e.String()))
	if err != nil || !reflect.DeepEqual(again, e) {
		t.Fatalf("round trip: %#v, %v", again, err)
	}
}

func TestSignatures(t *testing.T) {
	// The signature in nixNarinfo is by a key named "test1" that
	// nix-store --generate-binary-cache-key made; the secret key below
	// (from go-nix's tests) has the same name but is another key.
	e, err := Parse([]byte(nixNarinfo))
	if err != nil {
		t.Fatal(err)
	}
	nixKey, err := ParsePublicKeys([]string{"test1:e8ebcfEal7la/tspqePi2rMnbWZVJOh5M15S10ohDgA="})
	if err != nil {
		t.Fatal(err)
	}
	if !nixKey.Signed(e.Fingerprint(), e.Signatures) {
		t.Fatal("Nix's signature does not verify")
	}
	sk, err := ParseSecretKey("test1:jbX9NxZp8WB/coK8k7yLf0gNYmBbIbCrOFwgJgI7OV+0sASf4R5oFQlioSlN3bJ56uvshzr7S9Z75pcv+9hSkQ==")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sk.String(), "jbX9") {
		t.Fatalf("String() shows the key: %s", sk)
	}
	ours, _ := ParsePublicKeys([]string{sk.PublicKey()})
	if ours.Signed(e.Fingerprint(), e.Signatures) {
		t.Fatal("a signature by another key with the same name verified")
	}
	sig, err := sk.Sign(e.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	e.Signatures = append(e.Signatures, sig)
	if !ours.Signed(e.Fingerprint(), e.Signatures) {
		t.Fatal("our own signature does not verify")
	}
	e.NarSize++
	if ours.Signed(e.Fingerprint(), e.Signatures) || nixKey.Signed(e.Fingerprint(), e.Signatures) {
		t.Fatal("a signature verified after the narinfo changed")
	}
	if got := e.Fingerprint(); got != "1;/nix/store/b8zzzm23p9pd6h8zbaiz806gqid7q81v-bb;sha256:0m54h46i7lwk20d2vihhq0fq7ns5ypg44viy8bxxnfqpz3y9a10x;1982929;" {
		t.Fatalf("fingerprint %s", got)
	}
}
