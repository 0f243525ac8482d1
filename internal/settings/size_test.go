package settings_test

import (
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"", 0, false}, {"0", 0, false}, {"1234", 1234, false}, {"500MB", 500e6, false}, {"500 mb", 500e6, false},
		{"2GiB", 2 << 30, false}, {"1.5G", 1.5e9, false}, {"10KiB", 10240, false}, {"7B", 7, false},
		{"lots", 0, true}, {"-1MB", 0, true}, {"MB", 0, true},
	}
	for _, tt := range tests {
		got, err := settings.ParseSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}
