package nixinstall

import (
	"os"
	"path/filepath"
	"testing"
)

// TestNixpkgsRevision: the commit of an archive URL, else a .git-revision
// file (channel tarballs carry one) in the directory or in the store path
// the tarball was unpacked into; nothing for anything else.
func TestNixpkgsRevision(t *testing.T) {
	const rev = "50ab793786d9de88ee30ec4e4c24fb4236fc2674"
	nixDir := t.TempDir()
	withRev := t.TempDir()
	if err := os.WriteFile(filepath.Join(withRev, ".git-revision"), []byte(rev+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unpacked := "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-source"
	if err := os.MkdirAll(filepath.Join(nixDir, "store", filepath.Base(unpacked)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nixDir, "store", filepath.Base(unpacked), ".git-revision"), []byte("1234567890ab"), 0o644); err != nil {
		t.Fatal(err)
	}
	bogus := t.TempDir()
	if err := os.WriteFile(filepath.Join(bogus, ".git-revision"), []byte("not a revision; rm -rf /"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, entry, unpacked, want string
	}{
		{"archive URL", "https://github.com/NixOS/nixpkgs/archive/" + rev + ".tar.gz", "", rev},
		{"directory", withRev, "", rev},
		{"unpacked channel", "https://nixos.org/channels/nixos-24.11/nixexprs.tar.xz", unpacked, "1234567890ab"},
		{"channel not fetched", "https://nixos.org/channels/nixos-24.11/nixexprs.tar.xz", "", ""},
		{"directory without one", t.TempDir(), "", ""},
		{"not a revision", bogus, "", ""},
		{"no nixpkgs", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := Nix{Dir: nixDir, Nixpkgs: Nixpkgs{Spec: tc.entry, Entry: tc.entry}}
			if got := n.NixpkgsRevision(tc.unpacked); got != tc.want {
				t.Errorf("NixpkgsRevision = %q, want %q", got, tc.want)
			}
		})
	}
}
