package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"
)

// backend is where a cache's objects live: an S3 bucket, a directory, or an
// HTTP server. Keys are relative to the cache root ("nix-cache-info",
// "<hash>.narinfo", "nar/<filehash>.nar.zst"). Errors never contain
// credentials; a missing object is errNotFound, an error no retry can fix is
// a *permanentError, anything else is worth retrying.
type backend interface {
	get(ctx context.Context, key string) (io.ReadCloser, error)
	exists(ctx context.Context, key string) (bool, error)
	// put stores body (size bytes) under key; body is rewound for retries
	// by the caller, not by put.
	put(ctx context.Context, key string, body io.ReadSeeker, size int64, contentType string) error
	// list calls fn with the keys at the top level of the cache.
	list(ctx context.Context, fn func(key string) error) error
}

// errNotFound is a backend's answer for a key it does not hold.
var errNotFound = errors.New("not found")

// permanentError is a failure that retrying will not fix: wrong credentials,
// a missing bucket, a refused request, a corrupt object.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

func permanentf(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

// errCacheDown is returned without trying once an earlier request exhausted
// its retries, so an unreachable cache costs one retry cycle, not one per path.
var errCacheDown = permanentf("cache unavailable after earlier errors")

func retryable(err error) bool {
	var p *permanentError
	return err != nil && !errors.Is(err, errNotFound) && !errors.As(err, &p) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// retrier runs operations with bounded retries and exponential backoff, and
// trips (fails fast from then on) when one exhausts its retries.
type retrier struct {
	attempts int
	delay    time.Duration
	tripped  chan struct{}
	once     sync.Once
}

func newRetrier(attempts int, delay time.Duration) *retrier {
	return &retrier{attempts: max(attempts, 1), delay: delay, tripped: make(chan struct{})}
}

func (r *retrier) isTripped() bool {
	select {
	case <-r.tripped:
		return true
	default:
		return false
	}
}

// do runs fn until it succeeds, fails for good, or has been tried
// r.attempts times; each retry first waits delay, 2*delay, 4*delay, ...
// (capped at 5 s, with jitter).
func (r *retrier) do(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		if r.isTripped() {
			return errCacheDown
		}
		err := fn()
		if !retryable(err) {
			return err
		}
		if attempt >= r.attempts {
			r.trip()
			return fmt.Errorf("giving up after %d attempts: %w", attempt, err)
		}
		wait := min(r.delay<<(attempt-1), 5*time.Second)
		wait += time.Duration(rand.Int64N(int64(wait)/4 + 1))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-r.tripped:
			t.Stop()
			return errCacheDown
		case <-t.C:
		}
	}
}

func (r *retrier) trip() { r.once.Do(func() { close(r.tripped) }) }
