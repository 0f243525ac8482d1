// Package retry runs a cache's requests with bounded retries and
// exponential backoff, and fails fast once one of them has exhausted its
// retries, so an unreachable cache costs one retry cycle, not one per path.
// What is worth retrying is package backend's call (backend.Retryable).
package retry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/backend"
)

// ErrDown is returned without trying once an earlier request exhausted
// its retries.
var ErrDown = backend.Permanentf("cache unavailable after earlier errors")

// Retrier runs operations with bounded retries and exponential backoff, and
// trips (fails fast from then on) when one exhausts its retries. One
// Retrier serves one operation (a Fetch, a Push, a Query) and its
// goroutines.
type Retrier struct {
	attempts int
	delay    time.Duration
	tripped  chan struct{}
	once     sync.Once
}

// New returns a Retrier that tries each operation attempts times (at least
// once), first waiting delay before a retry.
func New(attempts int, delay time.Duration) *Retrier {
	return &Retrier{attempts: max(attempts, 1), delay: delay, tripped: make(chan struct{})}
}

// Tripped reports whether an operation has exhausted its retries.
func (r *Retrier) Tripped() bool {
	select {
	case <-r.tripped:
		return true
	default:
		return false
	}
}

// Do runs fn until it succeeds, fails for good, or has been tried
// r.attempts times; each retry first waits delay, 2*delay, 4*delay, ...
// (capped at 5 s, with jitter).
func (r *Retrier) Do(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		if r.Tripped() {
			return ErrDown
		}
		err := fn()
		if !backend.Retryable(err) {
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
			return ErrDown
		case <-t.C:
		}
	}
}

func (r *Retrier) trip() { r.once.Do(func() { close(r.tripped) }) }
