package narinfo

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
)

// ParseRegistration reads the validity registration format that
// `nix-store --dump-db` prints and `nix-store --register-validity
// --hash-given` and `nix-store --load-db` read: per path, the lines
//
//	<store path>
//	<NAR hash: base16, nixbase32 or "sha256:..."; Nix 2.8 prints bare base16>
//	<NAR size>
//	<deriver, or an empty line>
//	<number of references>
//	<one reference per line>
//
// NarHash comes back as "sha256:<nixbase32>".
func ParseRegistration(r io.Reader) ([]PathInfo, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	next := func(what string) (string, error) {
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				return "", fmt.Errorf("unable to read registration line %d\n%w", line+1, err)
			}
			return "", fmt.Errorf("registration line %d: expected %s, got end of input", line+1, what)
		}
		line++
		return sc.Text(), nil
	}
	var infos []PathInfo
	for sc.Scan() {
		line++
		info := PathInfo{StorePath: sc.Text()}
		if err := CheckStorePath(info.StorePath); err != nil {
			return nil, fmt.Errorf("registration line %d: %w", line, err)
		}
		s, err := next("a NAR hash")
		if err != nil {
			return nil, err
		}
		if info.NarHash, err = NormalizeHash(s); err != nil {
			return nil, fmt.Errorf("registration line %d: %w", line, err)
		}
		if s, err = next("a NAR size"); err != nil {
			return nil, err
		}
		if info.NarSize, err = strconv.ParseUint(s, 10, 64); err != nil {
			return nil, fmt.Errorf("registration line %d: NAR size must be a number, got %q", line, s)
		}
		if info.Deriver, err = next("a deriver or an empty line"); err != nil {
			return nil, err
		}
		if info.Deriver != "" {
			if err := CheckStorePath(info.Deriver); err != nil {
				return nil, fmt.Errorf("registration line %d: deriver: %w", line, err)
			}
		}
		if s, err = next("a reference count"); err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("registration line %d: reference count must be a number, got %q", line, s)
		}
		for range n {
			ref, err := next("a reference")
			if err != nil {
				return nil, err
			}
			if err := CheckStorePath(ref); err != nil {
				return nil, fmt.Errorf("registration line %d: reference: %w", line, err)
			}
			info.References = append(info.References, ref)
		}
		infos = append(infos, info)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("unable to read registration line %d\n%w", line+1, err)
	}
	return infos, nil
}

// FormatRegistration writes infos in the validity registration format, with
// the NAR hash as bare base16 like `nix-store --dump-db` of Nix 2.8, so the
// output can be fed to `nix-store --register-validity --hash-given` or
// `nix-store --load-db`. References are written sorted.
func FormatRegistration(w io.Writer, infos []PathInfo) error {
	bw := bufio.NewWriter(w)
	for i := range infos {
		info := &infos[i]
		if err := info.Validate(); err != nil {
			return fmt.Errorf("unable to write registration\n%w", err)
		}
		digest, _ := HashDigest(info.NarHash)
		fmt.Fprintf(bw, "%s\n%s\n%d\n%s\n%d\n", info.StorePath, hex.EncodeToString(digest), info.NarSize, info.Deriver, len(info.References))
		for _, r := range sortedRefs(info.References) {
			fmt.Fprintf(bw, "%s\n", r)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("unable to write registration\n%w", err)
	}
	return nil
}
