package storedir

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nix-buildpack/nix-buildpack/internal/nar"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// Pack serialises info's store path in storeDir as a NAR file compressed
// with compression, or as its image layer when layer is not nil, refusing
// it when its contents differ from what the Nix database records (info's
// NarHash and NarSize).
func Pack(storeDir string, info *narinfo.PathInfo, compression string, layer *nar.Layer) (*nar.Packed, error) {
	dir := filepath.Join(storeDir, filepath.Base(info.StorePath))
	if _, err := os.Lstat(dir); err != nil {
		return nil, fmt.Errorf("it is not in %s", storeDir)
	}
	var packed *nar.Packed
	var err error
	if layer != nil {
		packed, err = nar.PackLayer(dir, info.NarSize, *layer)
	} else {
		packed, err = nar.Pack(dir, info.NarSize, compression)
	}
	if err != nil {
		return nil, err
	}
	want, _ := narinfo.NormalizeHash(info.NarHash)
	if got := narinfo.FormatSHA256(packed.NarSHA256); got != want || uint64(packed.NarSize) != info.NarSize {
		packed.Close()
		return nil, fmt.Errorf("its contents in %s do not match the Nix database (NAR hash %s, %d bytes; expected %s, %d bytes)",
			storeDir, got, packed.NarSize, want, info.NarSize)
	}
	return packed, nil
}
