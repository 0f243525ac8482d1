package cache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

const (
	s3Access = "nixbp-test-access"
	s3Secret = "nixbp-test-secret-Vz8q2"
)

// s3Server is a real S3 server (versitygw, posix backend) on loopback: a
// bucket is a directory under dir, an object a file, so a bucket written
// in the binary cache layout is also a file:// cache.
type s3Server struct {
	addr     string
	dir      string
	cmd      *exec.Cmd
	stopOnce sync.Once
}

func startS3(t testing.TB) *s3Server {
	t.Helper()
	bin := testenv.Require(t, "versitygw")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &s3Server{addr: l.Addr().String(), dir: t.TempDir()}
	l.Close()
	s.cmd = exec.Command(bin, "--access", s3Access, "--secret", s3Secret, "--port", s.addr, "--quiet", "posix", s.dir)
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %s", s.addr)
		}
	}
}

func (s *s3Server) stop() {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	})
}

// url is the cache URL of bucket/prefix on this server.
func (s *s3Server) url(bucket, prefix string) string {
	return fmt.Sprintf("s3://%s/%s?endpoint=http://%s&region=us-east-1", bucket, prefix, s.addr)
}

func (s *s3Server) createBucket(t testing.TB, bucket string) {
	t.Helper()
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + s.addr), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s3Access, s3Secret, ""),
	})
	if _, err := client.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
}

var s3Creds = &settings.Credentials{AccessKeyID: s3Access, SecretAccessKey: s3Secret}

func TestS3RoundTrip(t *testing.T) {
	f := buildFixture(t)
	s := startS3(t)
	s.createBucket(t, "cache")
	sk, pub := keyPair(t, "s3-test-1")
	url := s.url("cache", "team/a")

	res, err := openCache(t, url, Options{Credentials: s3Creds, SecretKey: sk}).Push(ctx(t), f.infos(t), f.storeDir())
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != len(f.closure) || len(res.Warnings) != 0 {
		t.Fatalf("push: %+v", res)
	}

	t.Run("fetch with the AWS credential chain", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", s3Access)
		t.Setenv("AWS_SECRET_ACCESS_KEY", s3Secret)
		t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
		root := emptyStore(t)
		res, err := openCache(t, url, Options{TrustedKeys: []string{pub}}).Fetch(ctx(t), []string{f.top}, chrootStore(t, root))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Installed) != len(f.closure) || len(res.Warnings) != 0 {
			t.Fatalf("fetch: %+v", res)
		}
		register(t, root, res.Installed)
		checkStore(t, root, f, f.closure)
		compareTrees(t, f.storeDir(), root+"/nix/store", f.closure)
	})
	t.Run("the bucket directory is a cache Nix reads", func(t *testing.T) {
		root := emptyStore(t)
		nix(t, "", "nix", "copy", "--from", "file://"+filepath.Join(s.dir, "cache", "team", "a"), "--to", root,
			"--option", "trusted-public-keys", pub, f.top)
		checkStore(t, root, f, f.closure)
	})
	t.Run("ls and verify", func(t *testing.T) {
		c := openCache(t, url, Options{Credentials: s3Creds, TrustedKeys: []string{pub}})
		entries, err := c.List(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, e := range entries {
			paths = append(paths, e.StorePath)
		}
		if !slices.Equal(paths, f.closure) {
			t.Fatalf("ls: %v, want %v", paths, f.closure)
		}
		vr, err := c.Verify(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if vr.Checked != len(f.closure) || len(vr.Bad) != 0 {
			t.Fatalf("verify: %+v", vr)
		}
	})
}

// TestS3CredentialsStayOut makes requests fail with a wrong secret and
// checks the secret appears nowhere: not in warnings, errors, log lines or
// the cache's String.
func TestS3CredentialsStayOut(t *testing.T) {
	f := buildFixture(t)
	s := startS3(t)
	s.createBucket(t, "cache")
	const wrong = "wrong-secret-q7Zt1xR9"
	var log bytes.Buffer
	creds := &settings.Credentials{AccessKeyID: s3Access, SecretAccessKey: wrong}
	c, err := Open(ctx(t), s.url("cache", ""), Options{Credentials: creds, Log: &log, RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	root := emptyStore(t)
	fr, err := c.Fetch(ctx(t), f.closure, chrootStore(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if len(fr.Warnings) != 1 || !strings.Contains(fr.Warnings[0], "access denied") || len(fr.Missing) != len(f.closure) {
		t.Fatalf("fetch: %+v", fr)
	}
	pr, err := c.Push(ctx(t), f.infos(t), f.storeDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Warnings) != 1 || !strings.Contains(pr.Warnings[0], "access denied") || len(pr.Failed) != len(f.closure) {
		t.Fatalf("push: %+v", pr)
	}
	_, lerr := c.List(ctx(t))
	if lerr == nil {
		t.Fatal("List with a wrong secret succeeded")
	}
	all := strings.Join(append(append(fr.Warnings, pr.Warnings...), lerr.Error(), log.String(), c.String(),
		fmt.Sprintf("%v %+v %#v", creds, *creds, Options{Credentials: creds})), "\n")
	if strings.Contains(all, wrong) {
		t.Fatalf("the secret shows in:\n%s", all)
	}
	t.Logf("what a user sees:\n%s", all)
}

func TestS3Faults(t *testing.T) {
	f := buildFixture(t)
	s := startS3(t)
	s.createBucket(t, "cache")
	fetch := func(t *testing.T, url string) *FetchResult {
		root := emptyStore(t)
		start := time.Now()
		res, err := openCache(t, url, Options{Credentials: s3Creds, RetryDelay: 10 * time.Millisecond}).
			Fetch(ctx(t), f.closure, chrootStore(t, root))
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("fetch took %s", d)
		}
		assertStoreHolds(t, root+"/nix/store", res, nil)
		return res
	}
	t.Run("missing bucket", func(t *testing.T) {
		res := fetch(t, s.url("no-such-bucket", ""))
		if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `bucket "no-such-bucket" does not exist`) {
			t.Fatalf("fetch: %+v", res)
		}
		pr, err := openCache(t, s.url("no-such-bucket", ""), Options{Credentials: s3Creds}).Push(ctx(t), f.infos(t), f.storeDir())
		if err != nil || len(pr.Warnings) != 1 || !strings.Contains(pr.Warnings[0], "does not exist") {
			t.Fatalf("push: %+v, %v", pr, err)
		}
	})
	t.Run("empty bucket", func(t *testing.T) {
		res := fetch(t, s.url("cache", "empty"))
		if len(res.Warnings) != 0 || len(res.Missing) != len(f.closure) {
			t.Fatalf("fetch: %+v", res)
		}
	})
	t.Run("server gone", func(t *testing.T) {
		s.stop()
		res := fetch(t, s.url("cache", ""))
		if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "connection refused") {
			t.Fatalf("fetch: %+v", res)
		}
	})
}

// TestS3ConcurrentPushers pushes the same closure from several pushers at
// once and checks the cache is whole and Nix reads it.
func TestS3ConcurrentPushers(t *testing.T) {
	f := buildFixture(t)
	s := startS3(t)
	s.createBucket(t, "cache")
	url := s.url("cache", "")
	var wg sync.WaitGroup
	results := make([]*PushResult, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Open(context.Background(), url, Options{Credentials: s3Creds})
			if err != nil {
				t.Error(err)
				return
			}
			results[i], err = c.Push(ctx(t), f.infos(t), f.storeDir())
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r == nil || len(r.Failed) != 0 || r.Uploaded+r.Skipped != len(f.closure) {
			t.Fatalf("push: %+v", r)
		}
	}
	vr, err := openCache(t, url, Options{Credentials: s3Creds}).Verify(ctx(t))
	if err != nil || len(vr.Bad) != 0 || vr.Checked != len(f.closure) {
		t.Fatalf("verify: %+v, %v", vr, err)
	}
	root := emptyStore(t)
	nix(t, "", "nix", "copy", "--from", "file://"+filepath.Join(s.dir, "cache"), "--to", root, "--no-check-sigs", f.top)
	checkStore(t, root, f, f.closure)
}

// TestS3ServerKilledMidDownload kills versitygw while it sends the largest
// NAR: the fetch must come back with warnings, the unfinished paths missing,
// and only complete, verified paths in the store.
func TestS3ServerKilledMidDownload(t *testing.T) {
	f := buildFixture(t)
	s := startS3(t)
	s.createBucket(t, "cache")
	res, err := openCache(t, s.url("cache", ""), Options{Credentials: s3Creds}).Push(ctx(t), f.infos(t), f.storeDir())
	if err != nil || len(res.Failed) != 0 {
		t.Fatalf("push: %+v, %v", res, err)
	}
	// The fixture's data path is 1 MiB of random bytes; kill the server
	// once 256 KiB of a response went through.
	proxy := startCutProxy(t, s.addr, 256<<10, s.stop)
	url := fmt.Sprintf("s3://cache/?endpoint=http://%s&region=us-east-1", proxy)
	root := emptyStore(t)
	start := time.Now()
	fr, err := openCache(t, url, Options{Credentials: s3Creds, RetryDelay: 10 * time.Millisecond}).
		Fetch(ctx(t), f.closure, chrootStore(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("fetch took %s", d)
	}
	data, top := f.pathNamed(t, "data"), f.pathNamed(t, "top")
	if !slices.Contains(fr.Missing, data) || !slices.Contains(fr.Missing, top) || len(fr.Warnings) == 0 {
		t.Fatalf("fetch: %+v", fr)
	}
	var installed []string
	for _, i := range fr.Installed {
		installed = append(installed, i.StorePath)
	}
	assertStoreHolds(t, root+"/nix/store", fr, installed)
	if len(installed) > 0 {
		register(t, root, fr.Installed)
		checkStore(t, root, f, installed)
	}
}

// startCutProxy forwards TCP connections to upstream and calls cut, then
// drops the connection, once one response passed limit bytes.
func startCutProxy(t testing.TB, upstream string, limit int, cut func()) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var once sync.Once
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", upstream)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c) }()
				buf := make([]byte, 32<<10)
				sent := 0
				for {
					n, err := u.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
						sent += n
						if sent > limit {
							once.Do(cut)
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}
