package e2e_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// nativeSubstitution compiles hello-web once to fill a signed file://
// binary cache, then compiles it cold in a fresh CACHE_DIR with that cache
// as the only substituter (no closure cache), under proot and under
// userns: the buildpack substitutes the output's closure natively before
// nix-build, which then builds nothing. With another key trusted, nothing
// is substituted natively (the narinfos are refused, as Nix refuses them)
// and Nix builds the app: the compile still passes.
func nativeSubstitution(t *testing.T, en herokuEnv) {
	binCache := filepath.Join(openTempDir(t), "bincache")
	if err := os.MkdirAll(binCache, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := execCommand("chown", itoa(uid)+":"+itoa(gid), binCache); err != nil {
		t.Fatal(out)
	}
	keys := openTempDir(t)
	testenv.Nix(t, "", "nix-store", "--generate-binary-cache-key", "e2e-subst-1", keys+"/sec", keys+"/pub")
	testenv.Nix(t, "", "nix-store", "--generate-binary-cache-key", "e2e-other-1", keys+"/other", keys+"/other.pub")
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(keys, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(data))
	}
	fill := newApp(t, en, "hello-web", filepath.Join(openTempDir(t), "cache"),
		map[string]string{"BP_NIX_CACHE": "file://" + binCache, "BP_NIX_CACHE_SECRET_KEY": read("sec")}, uid, gid)
	if out, err := fill.Compile(nil); err != nil || !strings.Contains(out, "Pushed ") {
		t.Fatalf("the compile that fills the cache did not push: %v\n%s", err, out)
	}
	substituted := regexp.MustCompile(`Substituted ([0-9]+) store paths natively`)
	for _, tc := range []struct {
		name, strategy, key string
		native              bool
	}{
		{name: "proot", strategy: "proot", key: read("pub"), native: true},
		{name: "userns", strategy: "userns", key: read("pub"), native: true},
		{name: "untrusted", strategy: "proot", key: read("other.pub")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, en, "hello-web", filepath.Join(openTempDir(t), "cache"), map[string]string{
				"BP_NIX_SUBSTITUTERS": "file://" + binCache, "BP_NIX_TRUSTED_PUBLIC_KEYS": tc.key, "BP_NIX_STRATEGY": tc.strategy}, uid, gid)
			out, err := a.Compile(nil)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			m := substituted.FindStringSubmatch(out)
			if !strings.Contains(out, "Substituting natively: under "+tc.strategy) || m == nil {
				t.Fatalf("the compile log does not show native substitution under %s:\n%s", tc.strategy, out)
			}
			if got := m[1] != "0"; got != tc.native {
				t.Fatalf("substituted natively: %s paths, want some: %v\n%s", m[1], tc.native, out)
			}
			if !tc.native && !strings.Contains(out, "is not signed by any trusted key (signatures: e2e-subst-1)") {
				t.Errorf("the log does not say why the narinfos were refused:\n%s", out)
			}
			serveSlug(t, a, "web", nil, fixtures[0].body)
		})
	}
}
