package prune

import (
	"strings"
	"testing"
)

func TestStoreRel(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: abs(hApp), want: hApp},
		{in: abs(hApp) + "/bin/web", want: hApp + "/bin/web"},
		{in: abs(hApp) + "/bin/", want: hApp + "/bin"},
		{in: "/usr/bin/env", err: "not a path under /nix/store"},
		{in: "/nix/store", err: "not a path under /nix/store"},
		{in: "/nix/store/short-name", err: "is not a store path name"},
		{in: "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-e", err: "is not a store path name"}, // 'e' is not nixbase32
		{in: "/nix/store/0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r", err: "is not a store path name"},
		{in: "/nix/store/0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-", err: "is not a store path name"},
	}
	for _, tt := range tests {
		got, err := StoreRel(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("StoreRel(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("StoreRel(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}
