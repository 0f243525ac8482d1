package hop3toml

import (
	"strings"
	"testing"
)

func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

func TestDecode(t *testing.T) {
	deep := func(n int) string { return "[build]\nbuilder = \"nix\"\n\nx = " + nested(n) + "\n" }
	for _, tc := range []struct {
		name, in, err string // err: substring, "" for none
	}{
		{"Hop3's shape", "[metadata]\nid = \"app\"\n[build]\nbuilder = \"nix\"\n[[addons]]\ntype = \"pg\"\n[env]\nA = { b = [1, [2]] }\n", ""},
		{"64 deep", deep(64), ""},
		{"65 deep, named by line", deep(65), "hop3.toml:4: arrays and inline tables nested more than 64 deep"},
		{"inline tables count", "x = " + strings.Repeat("{a = ", 65) + "1" + strings.Repeat("}", 65), "hop3.toml:1: arrays and inline tables nested more than 64"},
		{"brackets in strings do not count", "a = \"" + nested(100) + "\"\nb = '" + nested(100) + "'\n", ""},
		{"nor in multi-line strings", "a = \"\"\"\n" + nested(100) + "\n\"\"\"\nb = '''\n" + nested(100) + "'''\n", ""},
		{"nor in comments", "# " + nested(100) + "\na = 1\n", ""},
		{"escaped quote in a string", "a = \"\\\"" + nested(100) + "\"\n", ""},
		{"the line after a multi-line string", "a = \"\"\"\n\n\"\"\"\nx = " + nested(70), "hop3.toml:4:"},
		{"3M nested arrays (6 MB): refused by size", "x = " + nested(3_000_000), "hop3.toml: 6000004 bytes, over the 1048576 a hop3.toml may take"},
		{"invalid TOML named by line", "a = 1\nb = \n", "hop3.toml:2: invalid TOML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode([]byte(tc.in), "hop3.toml")
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("Decode = %v, want %q", err, tc.err)
			}
		})
	}
}
