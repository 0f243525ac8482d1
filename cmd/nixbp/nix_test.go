package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNixGenerateEject(t *testing.T) {
	dir := t.TempDir()
	toml := "[metadata]\nid = \"demo\"\n\n[nix]\ntemplate = \"nixpkgs-wrapper\"\nnixpkgs-package = \"hello\"\nexec-target = \"hello\"\n"
	if err := os.WriteFile(filepath.Join(dir, "hop3.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	if err := runNix([]string{"generate", dir}, &out, &errw); err != nil {
		t.Fatalf("nix generate: %v", err)
	}
	generated := out.String()
	if !strings.Contains(generated, "pkgs.hello") || !strings.Contains(generated, "hop3/runtime.json") {
		t.Fatalf("nix generate printed\n%s", generated)
	}
	out.Reset()
	if err := runNix([]string{"eject", dir}, &out, &errw); err != nil {
		t.Fatalf("nix eject: %v", err)
	}
	ejected, err := os.ReadFile(filepath.Join(dir, "hop3.nix"))
	if err != nil || string(ejected) != generated {
		t.Fatalf("hop3.nix = %q, %v; want what generate printed", ejected, err)
	}
	if err := runNix([]string{"eject", dir}, &out, &errw); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second eject: %v; want a refusal to overwrite", err)
	}
	if err := runNix([]string{"generate", t.TempDir()}, &out, &errw); err == nil || !strings.Contains(err.Error(), "has no hop3.toml") {
		t.Fatalf("generate without hop3.toml: %v", err)
	}
}
