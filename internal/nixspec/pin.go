package nixspec

// Hop3's pinned nixpkgs (hop3-server plugins/build/nix/gen/templates/base.py
// NIXPKGS_REV and NIXPKGS_SHA256): a nixos-24.11 commit and the sha256 of
// its unpacked tarball, which fetchTarball checks.
const (
	NixpkgsRev    = "50ab793786d9de88ee30ec4e4c24fb4236fc2674"
	NixpkgsSHA256 = "1s2gr5rcyqvpr58vxdcb095mdhblij9bfzaximrva2243aal3dgx"
)

// Pin is the nixpkgs commit and sha256 the expression fetches: the app's
// nixpkgs-rev and nixpkgs-sha256, else Hop3's pin.
func (s Spec) Pin() (rev, sha256 string) {
	if s.NixpkgsRev != "" {
		return s.NixpkgsRev, s.NixpkgsSHA256
	}
	return NixpkgsRev, NixpkgsSHA256
}
