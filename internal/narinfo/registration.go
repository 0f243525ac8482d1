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
	rr := &registrationReader{sc: bufio.NewScanner(r)}
	rr.sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var infos []PathInfo
	for rr.sc.Scan() {
		rr.line++
		info, err := rr.entry(rr.sc.Text())
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	if err := rr.sc.Err(); err != nil {
		return nil, fmt.Errorf("unable to read registration line %d\n%w", rr.line+1, err)
	}
	return infos, nil
}

// registrationReader reads the registration format line by line, counting
// lines for its errors.
type registrationReader struct {
	sc   *bufio.Scanner
	line int
}

// next reads the next line, which must be there: what names it for the
// error.
func (rr *registrationReader) next(what string) (string, error) {
	if !rr.sc.Scan() {
		if err := rr.sc.Err(); err != nil {
			return "", fmt.Errorf("unable to read registration line %d\n%w", rr.line+1, err)
		}
		return "", fmt.Errorf("registration line %d: expected %s, got end of input", rr.line+1, what)
	}
	rr.line++
	return rr.sc.Text(), nil
}

// entry reads the lines after storePath's, which was just read.
func (rr *registrationReader) entry(storePath string) (PathInfo, error) {
	info := PathInfo{StorePath: storePath}
	if err := CheckStorePath(storePath); err != nil {
		return info, fmt.Errorf("registration line %d: %w", rr.line, err)
	}
	s, err := rr.next("a NAR hash")
	if err != nil {
		return info, err
	}
	if info.NarHash, err = NormalizeHash(s); err != nil {
		return info, fmt.Errorf("registration line %d: %w", rr.line, err)
	}
	if s, err = rr.next("a NAR size"); err != nil {
		return info, err
	}
	if info.NarSize, err = strconv.ParseUint(s, 10, 64); err != nil {
		return info, fmt.Errorf("registration line %d: NAR size must be a number, got %q", rr.line, s)
	}
	if info.Deriver, err = rr.next("a deriver or an empty line"); err != nil {
		return info, err
	}
	if info.Deriver != "" {
		if err := CheckStorePath(info.Deriver); err != nil {
			return info, fmt.Errorf("registration line %d: deriver: %w", rr.line, err)
		}
	}
	if s, err = rr.next("a reference count"); err != nil {
		return info, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return info, fmt.Errorf("registration line %d: reference count must be a number, got %q", rr.line, s)
	}
	for range n {
		ref, err := rr.next("a reference")
		if err != nil {
			return info, err
		}
		if err := CheckStorePath(ref); err != nil {
			return info, fmt.Errorf("registration line %d: reference: %w", rr.line, err)
		}
		info.References = append(info.References, ref)
	}
	return info, nil
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
