package cache

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// TestQueryTrustsAsNix gives Query (with RequireSigs, as substituters are
// read) and the host's Nix (nix-store --realise from the same file://
// substituter) the same narinfos, signed, unsigned, signed by another key,
// content-addressed rightly or wrongly, and checks that both take exactly
// the same ones: Nix is the oracle.
func TestQueryTrustsAsNix(t *testing.T) {
	f := buildFixture(t)
	sk, pub := keyPair(t, "nixbp-trust-1")
	other, _ := keyPair(t, "nixbp-other-1")
	byName := func(name string) string {
		return f.closure[slices.IndexFunc(f.closure, func(p string) bool { return strings.HasSuffix(p, "-"+name) })]
	}
	bb, lib := byName("bb"), byName("lib") // bb is a source path (recursive SHA-256), lib a build output
	zero := "sha256:0000000000000000000000000000000000000000000000000000"

	tests := []struct {
		name  string
		path  string
		edit  func(e *narinfo.NarInfo)
		query string
		keys  []string // trusted-public-keys (default: pub)
	}{
		{name: "signed", path: bb, edit: func(*narinfo.NarInfo) {}},
		{name: "unsigned", path: bb, edit: func(e *narinfo.NarInfo) { e.Signatures = nil }},
		{name: "unsigned, content-addressed", path: bb, edit: func(e *narinfo.NarInfo) { e.Signatures, e.CA = nil, "fixed:r:"+e.NarHash }},
		{name: "unsigned, content-addressed, no key trusted", path: bb, keys: []string{},
			edit: func(e *narinfo.NarInfo) { e.Signatures, e.CA = nil, "fixed:r:"+e.NarHash }},
		{name: "unsigned, a wrong content address", path: bb, edit: func(e *narinfo.NarInfo) { e.Signatures, e.CA = nil, "fixed:r:"+zero }},
		{name: "unsigned, a flat content address", path: bb, edit: func(e *narinfo.NarInfo) { e.Signatures, e.CA = nil, "fixed:"+e.NarHash }},
		{name: "build output, unsigned, claims a content address", path: lib,
			edit: func(e *narinfo.NarInfo) { e.Signatures, e.CA = nil, "fixed:r:"+e.NarHash }},
		{name: "build output, signed by another key", path: lib, edit: func(e *narinfo.NarInfo) { e.Signatures = []string{sign(t, other, e)} }},
		{name: "build output, signed, NAR size changed", path: lib, edit: func(e *narinfo.NarInfo) { e.NarSize++ }},
		{name: "build output, unsigned, trusted=1", path: lib, query: "?trusted=1", edit: func(e *narinfo.NarInfo) { e.Signatures = nil }},
		{name: "build output, unsigned, no key trusted", path: lib, keys: []string{}, edit: func(e *narinfo.NarInfo) { e.Signatures = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := tc.keys
			if keys == nil {
				keys = []string{pub}
			}
			dir := t.TempDir()
			c := openCache(t, "file://"+dir, Options{SecretKey: sk})
			if res, err := c.Push(ctx(t), f.infos(t), f.storeDir()); err != nil || len(res.Failed) > 0 {
				t.Fatalf("push: %v %+v", err, res)
			}
			p := filepath.Join(dir, narinfo.HashPart(tc.path)+".narinfo")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			e, err := narinfo.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(e)
			if err := os.WriteFile(p, []byte(e.String()), 0o644); err != nil {
				t.Fatal(err)
			}

			q := openCache(t, "file://"+dir+tc.query, Options{TrustedKeys: keys, RequireSigs: true})
			found, err := q.Query(ctx(t), []string{tc.path})
			if err != nil {
				t.Fatal(err)
			}
			root := emptyStore(t)
			_, nixErr := nixRun("", "nix-store", "--store", root, "--realise", tc.path,
				"--option", "substituters", "file://"+dir+tc.query, "--option", "trusted-public-keys", strings.Join(keys, " "))
			if found[tc.path] != (nixErr == nil) {
				t.Fatalf("Query took it: %v; Nix took it: %v (%v)", found[tc.path], nixErr == nil, nixErr)
			}
		})
	}
}

func sign(t *testing.T, k *narinfo.SecretKey, e *narinfo.NarInfo) string {
	t.Helper()
	s, err := k.Sign(e.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	return s
}
