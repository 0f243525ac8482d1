package heroku

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NIX_BUILD_FLAGS", "--cores 1")
	t.Setenv("NIX_STRATEGY", "userns")
	for name, value := range map[string]string{"NIX_BUILD_FLAGS": "--show-trace\n", "DATABASE_URL": "postgres://x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env, err := LoadEnv(dir, []string{"NIX_BUILD_FLAGS", "NIX_STRATEGY", "NIX_APP_NAME"})
	if err != nil {
		t.Fatal(err)
	}
	if got := env.Get("NIX_BUILD_FLAGS"); got != "--show-trace" {
		t.Errorf("ENV_DIR does not win: %s=%q", "NIX_BUILD_FLAGS", got)
	}
	if got := env.Source("NIX_BUILD_FLAGS"); got != filepath.Join(dir, "NIX_BUILD_FLAGS") {
		t.Errorf("source = %q", got)
	}
	if got := env.Get("NIX_STRATEGY"); got != "userns" {
		t.Errorf("process environment not read: %q", got)
	}
	if _, ok := env.Lookup("NIX_APP_NAME"); ok {
		t.Errorf("%s is set without being anywhere", "NIX_APP_NAME")
	}
	if env, err := LoadEnv(filepath.Join(dir, "missing"), []string{"NIX_BUILD_FLAGS"}); err != nil || env.Get("NIX_BUILD_FLAGS") != "--cores 1" {
		t.Errorf("a missing ENV_DIR: %v, %q", err, env.Get("NIX_BUILD_FLAGS"))
	}
}

func TestLoadEnvUnreadable(t *testing.T) {
	dir := t.TempDir()
	// A dangling link stands for an unreadable file even for root, who
	// reads files whatever their mode.
	if err := os.Symlink("/nonexistent/secret", filepath.Join(dir, "NIX_APP_NAME")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "NIX_S3_BUCKET"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := LoadEnv(dir, []string{"NIX_APP_NAME"})
	if err == nil || !strings.Contains(err.Error(), "unable to read config var NIX_APP_NAME from "+filepath.Join(dir, "NIX_APP_NAME")) ||
		!strings.Contains(err.Error(), "make the file readable") {
		t.Fatalf("error = %v", err)
	}
	_, err = LoadEnv(dir, []string{"NIX_S3_BUCKET"})
	if err == nil || !strings.Contains(err.Error(), "config var NIX_S3_BUCKET: "+filepath.Join(dir, "NIX_S3_BUCKET")+" is a directory") {
		t.Fatalf("error = %v", err)
	}
	if _, err := LoadEnv(dir, []string{"NIX_STRATEGY"}); err != nil {
		t.Fatalf("files of other variables are read: %v", err)
	}
}
