package prune

import (
	"reflect"
	"strings"
	"testing"
)

func TestMeasureSizes(t *testing.T) {
	src := makeStore(t)
	symlinks := int64(len(abs(hApp)+"/bin/web") + len(abs(hPython)+"/bin/python3"))
	tests := []struct {
		name    string
		rules   string
		opts    Options
		limit   int64
		before  int64
		after   int64
		largest []StoreSize
		warn    string
	}{
		{
			name: "example", rules: exampleRules, limit: 0,
			before: 16351 + symlinks,
			after:  2000 + 900 + 100 + 20 + 700 + 30 + 120 + 10 + 3000 + 800 + 4096 + symlinks,
			largest: []StoreSize{
				{abs(hGlibc), 3000},
				{abs(hPython), 3000},
				{abs(hOpenssl), 800},
				{abs(hNix), 730},
				{abs(hUserEnv), 20 + symlinks},
				{abs(hApp), 130},
			},
		},
		{
			name: "over the limit", rules: exampleRules, limit: 10000,
			before: 16351 + symlinks, after: 11776 + symlinks,
			warn: "the pruned store is 11.9 kB, over the limit of 10.0 kB",
		},
		{
			name: "selected closure", rules: "", opts: Options{Selected: []string{hApp, hBash}},
			before: 130 + 1100, after: 130 + 1100,
			largest: []StoreSize{{abs(hBash), 1100}, {abs(hApp), 130}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Plan(src, parse(t, tt.rules), tt.opts)
			must(t, err)
			s, err := MeasureSizes(src, rep, tt.opts, tt.limit)
			must(t, err)
			if s.Before != tt.before || s.After != tt.after {
				t.Errorf("before, after = %d, %d; want %d, %d", s.Before, s.After, tt.before, tt.after)
			}
			if tt.largest != nil && !reflect.DeepEqual(s.Largest, tt.largest) {
				t.Errorf("largest = %v, want %v", s.Largest, tt.largest)
			}
			if (tt.warn == "") != (s.Warning == "") || !strings.Contains(s.Warning, tt.warn) {
				t.Errorf("warning = %q, want %q", s.Warning, tt.warn)
			}
			lines := s.Lines()
			if !strings.HasPrefix(lines[0], "Store size: ") {
				t.Errorf("lines = %q", lines)
			}
			if tt.warn != "" && !strings.HasPrefix(lines[len(lines)-1], "Warning: the pruned store") {
				t.Errorf("lines = %q", lines)
			}
		})
	}
}

func TestMeasureSizesKeepsTen(t *testing.T) {
	rep := &Report{}
	for i := 0; i < 12; i++ {
		rep.Kept = append(rep.Kept, Entry{Path: "store/" + strings.Repeat(nixBase32[10+i:11+i], 32) + "-p/f", Size: int64(i + 1)})
	}
	s, err := MeasureSizes(t.TempDir(), rep, Options{}, 0)
	must(t, err)
	if len(s.Largest) != 10 || s.Largest[0].Size != 12 || s.Largest[9].Size != 3 {
		t.Errorf("largest = %v", s.Largest)
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 1500000: "1.5 MB", 500e6: "500.0 MB", 2e9: "2.0 GB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
