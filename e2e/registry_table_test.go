package e2e_test

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// table is the README's table of what each build sent the registry.
func table(steps []*step) string {
	var b strings.Builder
	b.WriteString("| build | blobs uploaded | bytes uploaded | of which store layers | new blobs stored | store bytes stored | blobs mounted | bytes pulled | time |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range steps {
		var storeUp int64
		for _, d := range s.uploadedStore() {
			storeUp += s.sizes[d]
		}
		var storedBytes int64
		for d := range s.stored {
			storedBytes += s.sizes[d]
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %d (%s) | %d (%s) | %s | %d | %s | %s |\n", s.label, len(s.traffic.Uploaded),
			mb(s.uploadedBytes()), len(s.uploadedStore()), mb(storeUp), len(s.stored), mb(storedBytes), mb(s.storeBytesStored()),
			s.traffic.Mounted, mb(s.traffic.DownloadedBytes), s.elapsed.Round(100*time.Millisecond))
	}
	return b.String() + "\nlayers of the last build: " + strings.Join(layerList(steps[len(steps)-1]), ", ")
}

func layerList(s *step) []string {
	var out []string
	for d, l := range s.names {
		out = append(out, fmt.Sprintf("%s %s", l.Name, mb(s.sizes[d])))
	}
	sort.Strings(out)
	return out
}

func mb(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
}
