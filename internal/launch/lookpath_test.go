package launch

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"prog": 0o755, "data": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", "/nonexistent:"+dir)
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{in: "prog", want: filepath.Join(dir, "prog"), ok: true},
		{in: filepath.Join(dir, "prog"), want: filepath.Join(dir, "prog"), ok: true},
		{in: "data"},
		{in: "sub"},
		{in: filepath.Join(dir, "data")},
		{in: "missing"},
	} {
		got, err := lookPath(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("lookPath(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
