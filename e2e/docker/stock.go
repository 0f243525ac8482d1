package docker

import (
	"path/filepath"
	"time"
)

// The stock images of scripts/docker/stock-images.sh (Debian bookworm,
// minbase, with no proot, no /nix and no nix-bin: what users' builders look
// like) and the builder on them.
const (
	StockBuilder    = "nixbp/builder:stock"
	StockBuildImage = "nixbp/build:stock"
	StockRunImage   = "nixbp/run:stock"
)

// MakeStockBuilder makes the stock base images (debootstrap on the first
// run, a cached root after) and the builder on them holding cnb.
func (e *Env) MakeStockBuilder(cnb string) error {
	_, err := e.script(15*time.Minute, filepath.Join(e.Repo, "scripts", "docker", "builder.sh"), cnb, StockBuilder, "stock")
	return err
}
