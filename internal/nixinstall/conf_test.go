package nixinstall_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

func TestSubstitutersAndKeys(t *testing.T) {
	const mine = "mine-1:AAAA"
	tests := []struct {
		name string
		s    nixinstall.Conf
		subs []string
		keys []string
	}{
		{name: "zero: none", s: nixinstall.Conf{}},
		{name: "default adds its key", s: nixinstall.Conf{Substituters: []string{nixinstall.CacheNixOSOrg}},
			subs: []string{nixinstall.CacheNixOSOrg}, keys: []string{nixinstall.CacheNixOSOrgKey}},
		{name: "extras after, each once", s: nixinstall.Conf{Substituters: []string{nixinstall.CacheNixOSOrg + "/"},
			ExtraSubstituters: []string{"file:///c", nixinstall.CacheNixOSOrg}, TrustedPublicKeys: []string{mine},
			ExtraTrustedPublicKeys: []string{mine, nixinstall.CacheNixOSOrgKey}},
			subs: []string{nixinstall.CacheNixOSOrg + "/", "file:///c"}, keys: []string{mine, nixinstall.CacheNixOSOrgKey}},
		{name: "replaced: no cache.nixos.org key", s: nixinstall.Conf{Substituters: []string{"https://mirror.example.org"},
			TrustedPublicKeys: []string{mine}}, subs: []string{"https://mirror.example.org"}, keys: []string{mine}},
	}
	for _, tt := range tests {
		if got := tt.s.AllSubstituters(); !reflect.DeepEqual(got, tt.subs) {
			t.Errorf("%s: AllSubstituters() = %q; want %q", tt.name, got, tt.subs)
		}
		if got := tt.s.AllTrustedPublicKeys(); !reflect.DeepEqual(got, tt.keys) {
			t.Errorf("%s: AllTrustedPublicKeys() = %q; want %q", tt.name, got, tt.keys)
		}
	}
}

func TestParseNixpkgs(t *testing.T) {
	app := t.TempDir()
	for _, d := range []string{"vendor/nixpkgs", "empty"} {
		if err := os.MkdirAll(filepath.Join(app, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{"vendor/nixpkgs/default.nix": "{}", "nixpkgs.tar.xz": "x"} {
		if err := os.WriteFile(filepath.Join(app, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const rev = "https://github.com/NixOS/nixpkgs/archive/0123456789abcdef0123456789abcdef01234567.tar.gz"
	tests := []struct {
		spec  string
		entry string
		moves bool
		err   string
	}{
		{spec: ""},
		{spec: "channel:nixos-24.11", entry: "https://nixos.org/channels/nixos-24.11/nixexprs.tar.xz", moves: true},
		{spec: "channel:", err: "expected channel:<name>"},
		{spec: "channel:a/b", err: "expected channel:<name>"},
		{spec: rev, entry: rev},
		{spec: "https://github.com/NixOS/nixpkgs/archive/nixos-24.11.tar.gz", entry: "https://github.com/NixOS/nixpkgs/archive/nixos-24.11.tar.gz", moves: true},
		{spec: "https://", err: "is not a URL"},
		{spec: "file://" + app + "/vendor/nixpkgs", entry: app + "/vendor/nixpkgs"},
		{spec: "file://" + app + "/nixpkgs.tar.xz", entry: "file://" + app + "/nixpkgs.tar.xz"},
		{spec: "file://relative/x", err: "expected file:///absolute/path"},
		{spec: "file:///gone/nixpkgs.tar.xz", entry: "file:///gone/nixpkgs.tar.xz"},
		{spec: "vendor/nixpkgs", entry: app + "/vendor/nixpkgs"},
		{spec: "./vendor/nixpkgs/", entry: app + "/vendor/nixpkgs"},
		{spec: "nixpkgs.tar.xz", entry: "file://" + app + "/nixpkgs.tar.xz"},
		{spec: "empty", err: "has no default.nix"},
		{spec: "missing", err: "does not exist"},
		{spec: "../outside", err: "must be a path inside the app"},
		{spec: "/abs/nixpkgs", err: "/abs/nixpkgs does not exist"},
		{spec: app + "/vendor/nixpkgs", entry: app + "/vendor/nixpkgs"},
		{spec: "git://example.org/nixpkgs", err: "unsupported scheme"},
	}
	for _, tt := range tests {
		got, err := nixinstall.ParseNixpkgs(tt.spec, app)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseNixpkgs(%q) error = %v; want %q", tt.spec, err, tt.err)
			}
			continue
		}
		if err != nil || got.Entry != tt.entry || got.Moves() != tt.moves {
			t.Errorf("ParseNixpkgs(%q) = %+v (moves %v), %v; want entry %q, moves %v", tt.spec, got, got.Moves(), err, tt.entry, tt.moves)
		}
		if tt.entry != "" && got.PathEntry() != "nixpkgs="+tt.entry {
			t.Errorf("PathEntry() = %q", got.PathEntry())
		}
	}
}
