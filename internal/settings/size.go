package settings

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize reads a size as users write it: bytes, or with a unit (KB, MB,
// GB as powers of 1000; KiB, MiB, GiB as powers of 1024). Empty is 0.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		factor int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}}
	factor := int64(1)
	num := s
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) && (u.suffix != "B" || !strings.ContainsAny(s[len(s)-2:len(s)-1], "iIkKmMgG")) {
			num, factor = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.factor
			break
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q: expected a number of bytes, or one with a unit such as 500MB or 2GiB", s)
	}
	return int64(n * float64(factor)), nil
}
