package nixmount_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// The test binary is the namespace child and the probe, as the buildpack's
// own binaries are.
func TestMain(m *testing.M) {
	nixmount.MaybeRunChild()
	os.Exit(m.Run())
}

func TestParseStrategy(t *testing.T) {
	tests := []struct {
		in   string
		want nixmount.Strategy
		err  string
	}{
		{"", nixmount.Auto, ""},
		{"auto", nixmount.Auto, ""},
		{" UserNS ", nixmount.UserNS, ""},
		{"proot", nixmount.PRoot, ""},
		{"native", nixmount.Native, ""},
		{"chroot", "", `unknown /nix strategy "chroot": expected one of auto, native, userns, proot`},
	}
	for _, tt := range tests {
		got, err := nixmount.ParseStrategy(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseStrategy(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseStrategy(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// storeWithMarker makes DIR/nix/store/marker-path/hello holding a unique text.
func storeWithMarker(t *testing.T) (nixDir, text string) {
	t.Helper()
	nixDir = filepath.Join(t.TempDir(), "nix")
	p := filepath.Join(nixDir, "store", "marker-path")
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	text = "marker " + filepath.Base(filepath.Dir(nixDir))
	if err := os.WriteFile(filepath.Join(p, "hello"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return nixDir, text
}

func TestStrategiesShowTheStoreAtNix(t *testing.T) {
	cases := []struct {
		name  string
		strat nixmount.Strategy
		opts  []func(*nixmount.View)
		needs string
	}{
		{"userns bind", nixmount.UserNS, nil, ""},
		{"userns new root", nixmount.UserNS, []func(*nixmount.View){nixmount.WithNewRoot}, ""},
		{"proot", nixmount.PRoot, nil, "proot"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.needs != "" {
				testenv.Require(t, c.needs)
			}
			nixDir, text := storeWithMarker(t)
			v, err := nixmount.Open(nixDir, c.strat, c.opts...)
			if err != nil {
				t.Fatalf("Open(%s): %v", c.strat, err)
			}
			if v.Strategy != c.strat {
				t.Fatalf("strategy = %s, want %s", v.Strategy, c.strat)
			}
			out, err := v.Command("cat", "/nix/store/marker-path/hello").CombinedOutput()
			if err != nil {
				t.Fatalf("cat through %s: %v\n%s", c.strat, err, out)
			}
			if string(out) != text {
				t.Fatalf("cat through %s = %q, want %q", c.strat, out, text)
			}
			// The working directory survives the switch.
			wd, _ := os.Getwd()
			out, err = v.Command("pwd").Output()
			if err != nil || strings.TrimSpace(string(out)) != wd {
				t.Fatalf("pwd through %s = %q, %v; want %q", c.strat, out, err, wd)
			}
		})
	}
}

func TestAutoPrefersNativeWhenNixIsTheDirectory(t *testing.T) {
	if _, err := os.Stat("/nix"); err != nil {
		testenv.Missing(t, "no /nix on this machine to compare with (scripts/setup.sh makes one by running nix)")
	}
	v, err := nixmount.Open("/nix", nixmount.Auto)
	if err != nil {
		t.Fatal(err)
	}
	if v.Strategy != nixmount.Native {
		t.Fatalf("strategy = %s, want native", v.Strategy)
	}
}

func TestNoStrategyErrorNamesEveryAttempt(t *testing.T) {
	nixDir, _ := storeWithMarker(t)
	_, err := nixmount.Open(nixDir, nixmount.Native)
	var nse *nixmount.NoStrategyError
	if !errors.As(err, &nse) {
		t.Fatalf("Open(native) error = %v, want NoStrategyError", err)
	}
	msg := err.Error()
	for _, want := range []string{nixDir, "native:", "is another directory than", "proot"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

// TestNewRootAllowsNestedUserNamespaces runs a program through the userns
// strategy's new root (an image whose / has no /nix) and has it make a user
// namespace of its own, as Nix's sandbox does: the kernel refuses one to a
// chrooted process, so the child must enter the new root by pivot_root.
func TestNewRootAllowsNestedUserNamespaces(t *testing.T) {
	testenv.Require(t, "unshare")
	nixDir, _ := storeWithMarker(t)
	v, err := nixmount.Open(nixDir, nixmount.UserNS, nixmount.WithNewRoot)
	if err != nil {
		t.Fatal(err)
	}
	if v.NewRootEntry != "pivot_root" || v.Chrooted() {
		t.Fatalf("the new root was entered by %q, want pivot_root (this machine's root is not an initramfs)", v.NewRootEntry)
	}
	if through := v.Through(); !strings.Contains(through, "entered by pivot_root") {
		t.Errorf("Through() = %q, want it to say the new root was entered by pivot_root", through)
	}
	out, err := v.Command("unshare", "--user", "--map-root-user", "cat", "/nix/store/marker-path/hello").CombinedOutput()
	if err != nil {
		t.Fatalf("a user namespace inside the new root: %v\n%s", err, out)
	}
	// Where / has /nix, the strategy binds over it and makes no new root.
	if _, err := os.Stat("/nix"); err == nil {
		v, err := nixmount.Open(nixDir, nixmount.UserNS)
		if err != nil {
			t.Fatal(err)
		}
		if v.NewRootEntry != "" {
			t.Errorf("bound over /nix, NewRootEntry = %q, want empty", v.NewRootEntry)
		}
	}
}
