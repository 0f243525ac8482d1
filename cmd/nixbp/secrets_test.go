package main

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCacheURLSecretsStayOutOfOutput runs real nixbp cache pulls and pushes
// (child processes) that fail against caches whose URLs carry secrets, and
// greps everything they print for the secrets.
func TestCacheURLSecretsStayOutOfOutput(t *testing.T) {
	root, result := cacheFixture(t)
	top := strings.TrimSpace(run(t, "", "readlink", result))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String() // nothing listens once closed
	l.Close()
	dest := t.TempDir()
	if err := os.MkdirAll(dest+"/nix/store", 0o755); err != nil {
		t.Fatal(err)
	}
	secrets := []string{"PASSW0RD-Q1", "T0KEN-Q2", "S3CRET-Q3", "SIG-Q4", "BARE-Q5", "ENDPOINTPW-Q6"}
	for _, tt := range []struct {
		args []string
		want string // what the failure must say
	}{
		{[]string{"pull", "--cache", "http://user:PASSW0RD-Q1@" + dead + "/?token=T0KEN-Q2&priority=30", "--store", dest, top},
			"is not usable"},
		{[]string{"pull", "--cache", "https://T0KEN-Q2@" + dead + "/nix#SIG-Q4", "--store", dest, top}, "is not usable"},
		{[]string{"push", "--cache", "http://user:PASSW0RD-Q1@" + dead + "/?secret=S3CRET-Q3", "--store", root, top}, "is not usable"},
		{[]string{"push", "--cache", "file://" + t.TempDir() + "?token=T0KEN-Q2&sig=SIG-Q4", "--store", root, top}, `unknown parameter "token"`},
		{[]string{"ls", "--cache", "user:PASSW0RD-Q1@" + dead}, `unsupported scheme`},
		{[]string{"ls", "--cache", "file:///nonexistent?BARE-Q5"}, "a query part without '='"},
		{[]string{"ls", "--cache", "file:///nonexistent?compression=zstd&key=S3CRET-Q3"}, `unknown parameter "key"`},
		{[]string{"pull", "--cache", "s3://bucket/p?region=us-east-1&endpoint=http://ak:ENDPOINTPW-Q6@" + dead, "--store", dest, top},
			"is not usable"},
	} {
		cmd := exec.Command(os.Args[0], append([]string{"cache"}, tt.args...)...)
		cmd.Env = append(os.Environ(), "NIXBP_TEST_RUN_MAIN=1", "AWS_ACCESS_KEY_ID=ak", "AWS_SECRET_ACCESS_KEY=sk", "NIXBP_CACHE=")
		out, err := cmd.CombinedOutput()
		t.Logf("nixbp cache %s:\n%s", strings.Join(tt.args, " "), out)
		if err == nil || !strings.Contains(string(out), tt.want) {
			t.Errorf("nixbp cache %s: %v; want a failure saying %q", tt.args[0], err, tt.want)
		}
		for _, s := range secrets {
			if strings.Contains(string(out), s) {
				t.Errorf("nixbp cache %s printed the secret %s", tt.args[0], s)
			}
		}
	}
}
