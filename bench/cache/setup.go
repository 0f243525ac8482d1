package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

const (
	s3Access = "bench-access"
	s3Secret = "bench-secret"
)

// bench holds the synthetic closure, the S3 server and what the methods
// share.
type bench struct {
	dir       string
	runs      string    // this run's scratch directories, under dir
	jobs      int       // cache.Options.Jobs
	keepAlive bool      // versitygw --keep-alive
	log       io.Writer // cache.Options.Log
	srcRoot   string    // chroot store holding the closure
	srcDir    string    // the synthetic closure's Nix expression
	sizeMiB   int
	top       string
	closure   []string
	infos     []narinfo.PathInfo
	files     int
	narBytes  int64
	zstdBytes int64

	s3Addr      string
	s3Dir       string
	s3Cmd       *exec.Cmd
	client      *s3.Client
	exportBytes int64

	pushTime   time.Duration
	pushDetail string
}

// buildClosure builds the synthetic closure into a chroot store under dir,
// once: a later run with the same size reuses it.
func (b *bench) buildClosure(sizeMiB int) error {
	b.sizeMiB = sizeMiB
	b.srcRoot = filepath.Join(b.dir, fmt.Sprintf("src-%dMiB", sizeMiB), "store")
	b.srcDir = filepath.Join(b.dir, fmt.Sprintf("src-%dMiB", sizeMiB), "expr")
	if err := writeSynthNix(b.srcDir, plan(sizeMiB), "v1"); err != nil {
		return err
	}
	start := time.Now()
	top, err := b.nixBuild()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "synthetic closure ready in %.1f s\n", time.Since(start).Seconds())
	b.top = top
	src := nixstore.Host(b.srcRoot, nil)
	if b.closure, err = src.Requisites(b.top); err != nil {
		return err
	}
	if b.infos, err = src.Infos(b.closure); err != nil {
		return err
	}
	for _, i := range b.infos {
		b.narBytes += int64(i.NarSize)
	}
	return filepath.WalkDir(filepath.Join(b.srcRoot, "nix", "store"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b.files++
		}
		return err
	})
}

func (b *bench) nixBuild() (string, error) {
	out, err := nixCmd("", "nix-build", "--store", b.srcRoot, "--max-jobs", strconv.Itoa(runtime.NumCPU()),
		"--no-out-link", filepath.Join(b.srcDir, "default.nix"))
	return strings.TrimSpace(out), err
}

// startS3 starts versitygw on a free loopback port with a fresh posix
// directory, and makes the buckets: "cache" (the binary cache) and "old"
// (the export).
func (b *bench) startS3() (err error) {
	bin := filepath.Join(testenv.ToolsDir(), "bin", "versitygw")
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("versitygw"); err != nil {
			return fmt.Errorf("versitygw is missing; run scripts/tools.sh versitygw")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	b.s3Addr = l.Addr().String()
	l.Close()
	b.s3Dir = filepath.Join(b.runs, "s3")
	if err := os.MkdirAll(b.s3Dir, 0o755); err != nil {
		return err
	}
	// --keep-alive: versitygw closes every connection after one response
	// unless told (Connection: close), so each GET paid a new TCP
	// connection on both sides; S3 services keep them open.
	args := []string{"--access", s3Access, "--secret", s3Secret, "--port", b.s3Addr, "--quiet"}
	if b.keepAlive {
		args = append(args, "--keep-alive")
	}
	b.s3Cmd = exec.Command(bin, append(args, "posix", b.s3Dir)...)
	b.s3Cmd.Stderr = os.Stderr
	if err := b.s3Cmd.Start(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			b.stopS3()
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", b.s3Addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw did not listen on %s", b.s3Addr)
		}
	}
	b.client = s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + b.s3Addr), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(s3Access, s3Secret, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	for _, bucket := range []string{"cache", "old"} {
		if _, err := b.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			return err
		}
	}
	return nil
}

// removeRuns deletes the scratch directories of this and of earlier,
// interrupted runs; only after the timed runs, as a large rm -rf slows
// file creation on ext4 for a while.
func (b *bench) removeRuns() {
	old, _ := filepath.Glob(filepath.Join(b.dir, "runs-*"))
	for _, d := range old {
		_ = exec.Command("chmod", "-R", "u+w", d).Run()
		_ = os.RemoveAll(d)
	}
}

func (b *bench) stopS3() {
	if b.s3Cmd != nil && b.s3Cmd.Process != nil && b.s3Cmd.ProcessState == nil {
		_ = b.s3Cmd.Process.Kill()
		_ = b.s3Cmd.Wait()
	}
}

func (b *bench) cacheURL() string {
	return fmt.Sprintf("s3://cache?endpoint=http://%s&region=us-east-1", b.s3Addr)
}

func (b *bench) openCache(ctx context.Context) (*cache.Cache, error) {
	return cache.Open(ctx, b.cacheURL(), cache.Options{
		Credentials: &settings.Credentials{AccessKeyID: s3Access, SecretAccessKey: s3Secret},
		Jobs:        b.jobs,
		Log:         b.log,
	})
}

// pushCold fills the binary cache with the closure (timed: a first push).
func (b *bench) pushCold(ctx context.Context) error {
	c, err := b.openCache(ctx)
	if err != nil {
		return err
	}
	res, err := c.Push(ctx, b.infos, filepath.Join(b.srcRoot, "nix", "store"))
	if err != nil {
		return err
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("push failed: %v", res.Warnings)
	}
	b.pushTime = res.Elapsed
	b.pushDetail = fmt.Sprintf("%d paths, %.1f MiB compressed", res.Uploaded, mibf(res.UploadedBytes))
	b.zstdBytes = res.UploadedBytes
	return nil
}

// prepareOld makes the old buildpacks' cache object: one nix-store --export
// of the closure, zstd-compressed, in S3.
func (b *bench) prepareOld(ctx context.Context) error {
	export := filepath.Join(b.runs, "export.nar.zst")
	script := `nix-store --store "$1" --export $(nix-store --store "$1" -qR "$2") | zstd -q -T0 -3 > "$3"`
	if _, err := nixCmd("", "sh", "-c", script, "sh", b.srcRoot, b.top, export); err != nil {
		return err
	}
	f, err := os.Open(export)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	b.exportBytes = fi.Size()
	_, err = b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("old"), Key: aws.String("closure.nar.zst"),
		Body: f, ContentLength: aws.Int64(fi.Size())})
	return err
}

// pushAfterChange rebuilds the closure with only the top path changed and
// times the push: one path should go up.
func (b *bench) pushAfterChange(ctx context.Context) (time.Duration, string, error) {
	if err := writeSynthNix(b.srcDir, plan(b.sizeMiB), fmt.Sprintf("v%d", time.Now().UnixNano())); err != nil {
		return 0, "", err
	}
	top, err := b.nixBuild()
	if err != nil {
		return 0, "", err
	}
	src := nixstore.Host(b.srcRoot, nil)
	closure, err := src.Requisites(top)
	if err != nil {
		return 0, "", err
	}
	infos, err := src.Infos(closure)
	if err != nil {
		return 0, "", err
	}
	c, err := b.openCache(ctx)
	if err != nil {
		return 0, "", err
	}
	res, err := c.Push(ctx, infos, filepath.Join(b.srcRoot, "nix", "store"))
	if err != nil {
		return 0, "", err
	}
	return res.Elapsed, fmt.Sprintf("uploaded %d path, skipped %d", res.Uploaded, res.Skipped), nil
}

// nixCmd runs a command and returns its stdout; its stderr goes into the
// error.
func nixCmd(stdin, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func numCPU() int { return runtime.NumCPU() }
