package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// s3Backend keeps a cache in an S3 bucket under a key prefix.
type s3Backend struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or ending in "/"
	settings s3Settings
}

// s3Settings are the parts of an s3:// URL and Options the client needs.
type s3Settings struct {
	bucket, prefix   string
	region, endpoint string
	profile          string
	pathStyle        bool
	creds            *settings.Credentials
}

func newS3Backend(ctx context.Context, s s3Settings) (*s3Backend, error) {
	opts := []func(*config.LoadOptions) error{
		// Retries are ours (retrier), so that a dead endpoint costs one bounded cycle.
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = 64
			t.ReadBufferSize = 256 << 10
			t.WriteBufferSize = 256 << 10
		})),
	}
	if s.region != "" {
		opts = append(opts, config.WithRegion(s.region))
	}
	if s.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(s.profile))
	}
	if s.creds != nil && s.creds.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(s.creds.AccessKeyID, s.creds.SecretAccessKey, s.creds.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// The SDK's message can quote a shared config file; it never holds
		// a secret of ours, but keep to the cause.
		return nil, fmt.Errorf("unable to load the AWS configuration for s3://%s\n%w", s.bucket, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if s.endpoint != "" {
			o.BaseEndpoint = aws.String(s.endpoint)
		}
		o.UsePathStyle = s.pathStyle
		// NARs are verified by their NAR hash; CRC checksums on top would
		// cost CPU and need streaming trailers some S3 servers refuse.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &s3Backend{client: client, bucket: s.bucket, prefix: s.prefix, settings: s}, nil
}

func (b *s3Backend) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + key)})
	if err != nil {
		return nil, b.classify("GET", key, err)
	}
	return out.Body, nil
}

func (b *s3Backend) Exists(ctx context.Context, key string) (bool, error) {
	_, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + key)})
	if err == nil {
		return true, nil
	}
	err = b.classify("HEAD", key, err)
	if err == ErrNotFound {
		return false, nil
	}
	return false, err
}

func (b *s3Backend) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, contentType string) error {
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &b.bucket,
		Key:           aws.String(b.prefix + key),
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentType:   aws.String(contentType),
	}, s3.WithAPIOptions(
		// Objects are checked by their hashes when read, so the request
		// signature need not cover the body: one SHA-256 pass fewer.
		v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware,
	))
	if err != nil {
		return b.classify("PUT", key, err)
	}
	return nil
}

func (b *s3Backend) List(ctx context.Context, fn func(key string) error) error {
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket: &b.bucket, Prefix: aws.String(b.prefix), Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return b.classify("LIST", b.prefix, err)
		}
		for _, o := range page.Contents {
			if err := fn(strings.TrimPrefix(aws.ToString(o.Key), b.prefix)); err != nil {
				return err
			}
		}
	}
	return nil
}

// classify turns an SDK error into the backend error kinds, with a message
// that says what to do. SDK errors carry the operation, status, S3 error
// code and request IDs, never the credentials.
func (b *s3Backend) classify(op, key string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var code string
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	status := 0
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	where := fmt.Sprintf("%s s3://%s/%s%s", op, b.bucket, b.prefix, key)
	switch {
	case code == "NoSuchBucket":
		return Permanentf("%s: bucket %q does not exist; create it or fix the cache URL", where, b.bucket)
	case code == "NoSuchKey" || code == "NotFound" || status == http.StatusNotFound:
		return ErrNotFound
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "AccessDenied" ||
		status == http.StatusForbidden || status == http.StatusUnauthorized:
		return Permanentf("%s: access denied (%s); check the S3 credentials and their permissions on the bucket", where, orStatus(code, status))
	case status == 0 && strings.Contains(err.Error(), "get identity"):
		return Permanentf("%s: no usable S3 credentials: %v", where, err)
	case status >= 500 || status == http.StatusTooManyRequests || status == 0:
		return fmt.Errorf("%s: %w", where, err)
	default:
		return Permanentf("%s: %v", where, err)
	}
}

func orStatus(code string, status int) string {
	if code != "" {
		return code
	}
	return fmt.Sprintf("HTTP %d", status)
}
