package backend

import (
	"strings"
	"testing"
)

func TestParseOCIKey(t *testing.T) {
	tests := []struct {
		key  string
		want ociKey
		err  string
	}{
		{key: "nix-cache-info", want: ociKey{tag: "nix-cache-info", configType: cacheInfoMediaType}},
		{key: "b8zzzm23p9pd6h8zbaiz806gqid7q81v.narinfo", want: ociKey{tag: "b8zzzm23p9pd6h8zbaiz806gqid7q81v.narinfo", configType: narinfoMediaType}},
		{key: "nixbp/source/" + strings.Repeat("0f", 32) + ".json", want: ociKey{tag: "nixbp-source-" + strings.Repeat("0f", 32), configType: pointerMediaType}},
		// nixbase32 of 32 zero bytes, then of sha256("") as Nix prints it.
		{key: "nar/" + strings.Repeat("0", 52) + ".nar.zst", want: ociKey{blob: "sha256:" + strings.Repeat("0", 64)}},
		{key: "nar/0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73.tar.gz",
			want: ociKey{blob: "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}},
		{key: "B8ZZZM23P9PD6H8ZBAIZ806GQID7Q81V.narinfo", err: "no place in an OCI cache"},
		{key: "nar/short.nar.zst", err: "no place in an OCI cache"},
		{key: "nixbp/source/../x.json", err: "no place in an OCI cache"},
		{key: "other", err: "no place in an OCI cache"},
	}
	for _, tt := range tests {
		got, err := parseOCIKey(tt.key)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want %q", tt.key, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v, %v; want %+v", tt.key, got, err, tt.want)
		}
	}
	for tag, key := range map[string]string{"nix-cache-info": "nix-cache-info", "b8zzzm23p9pd6h8zbaiz806gqid7q81v.narinfo": "b8zzzm23p9pd6h8zbaiz806gqid7q81v.narinfo",
		"latest": "", "nixbp-source-00": ""} {
		if got := keyOfTag(tag); got != key {
			t.Errorf("keyOfTag(%s) = %q, want %q", tag, got, key)
		}
	}
}
