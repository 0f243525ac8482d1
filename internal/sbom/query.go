package sbom

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/nix-community/go-nix/pkg/nixhash"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// Query reads each store path's NAR hash and size from the Nix database of
// nix (one `nix-store --dump-db` call), in the order given.
func Query(nix nixinstall.Nix, paths []string) ([]StorePath, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	cmd := nix.Command("nix-store", append([]string{"--dump-db"}, paths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("nix-store --dump-db failed\n%s%w", stderr.String(), err)
	}
	byPath, err := ParseRegistration(out)
	if err != nil {
		return nil, err
	}
	result := make([]StorePath, 0, len(paths))
	for _, p := range paths {
		sp, ok := byPath[p]
		if !ok {
			return nil, fmt.Errorf("nix-store --dump-db did not describe %s", p)
		}
		result = append(result, sp)
	}
	return result, nil
}

// ParseRegistration reads the registration format of `nix-store --dump-db`
// and an installer tarball's .reginfo: per path, the path, its NAR hash, NAR
// size, deriver, a count and that many references. Hashes come out as Nix
// prints them in narinfo files, sha256:<nix base32>, whatever the input's
// encoding (Nix 2.8 writes bare base16).
func ParseRegistration(data []byte) (map[string]StorePath, error) {
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	result := map[string]StorePath{}
	for i := 0; i < len(lines) && lines[i] != ""; {
		if i+4 >= len(lines) {
			return nil, fmt.Errorf("registration line %d: %s: want path, hash, size, deriver and reference count", i+1, lines[i])
		}
		hash, err := normaliseHash(lines[i+1])
		if err != nil {
			return nil, fmt.Errorf("registration line %d: NAR hash of %s: %w", i+2, lines[i], err)
		}
		size, err := strconv.ParseUint(lines[i+2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("registration line %d: NAR size of %s: %w", i+3, lines[i], err)
		}
		n, err := strconv.Atoi(lines[i+4])
		if err != nil || n < 0 || i+5+n > len(lines) {
			return nil, fmt.Errorf("registration line %d: reference count of %s: got %q", i+5, lines[i], lines[i+4])
		}
		result[lines[i]] = StorePath{StorePath: lines[i], NarHash: hash, NarSize: size}
		i += 5 + n
	}
	return result, nil
}

func normaliseHash(s string) (string, error) {
	algo := nixhash.SHA256
	h, err := nixhash.ParseAny(s, &algo)
	if err != nil {
		return "", err
	}
	return h.Format(nixhash.NixBase32, true), nil
}

// WriteClosure queries the NAR hash and size of every store path of a
// closure from nix's database and writes the launch layer's SBOM (Write).
func WriteClosure(nix nixinstall.Nix, closure []string, layerPath string) error {
	paths, err := Query(nix, closure)
	if err != nil {
		return fmt.Errorf("unable to read the closure's NAR hashes for the SBOM\n%w", err)
	}
	return Write(layerPath, paths)
}
