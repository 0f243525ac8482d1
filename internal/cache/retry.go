package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/backend"
)

// errCacheDown is returned without trying once an earlier request exhausted
// its retries, so an unreachable cache costs one retry cycle, not one per path.
var errCacheDown = backend.Permanentf("cache unavailable after earlier errors")

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
			return errCacheDown
		case <-t.C:
		}
	}
}

func (r *retrier) trip() { r.once.Do(func() { close(r.tripped) }) }
