package retry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/backend"
)

// TestDo: a retryable error is tried Attempts times and then trips the
// Retrier, after which every operation fails at once with ErrDown; a
// permanent error and a missing key are not retried and trip nothing.
func TestDo(t *testing.T) {
	ctx := context.Background()
	r := New(3, time.Nanosecond)
	calls := 0
	err := r.Do(ctx, func() error { calls++; return backend.Permanentf("bad narinfo") })
	if calls != 1 || err == nil || r.Tripped() {
		t.Fatalf("permanent error: %d calls, %v, tripped %v; want 1 call, the error, not tripped", calls, err, r.Tripped())
	}
	calls = 0
	if err := r.Do(ctx, func() error { calls++; return backend.ErrNotFound }); calls != 1 || !errors.Is(err, backend.ErrNotFound) || r.Tripped() {
		t.Fatalf("not found: %d calls, %v, tripped %v", calls, err, r.Tripped())
	}
	calls = 0
	if err := r.Do(ctx, func() error {
		calls++
		if calls < 3 {
			return errors.New("connection reset")
		}
		return nil
	}); err != nil || calls != 3 || r.Tripped() {
		t.Fatalf("success on the last attempt: %d calls, %v, tripped %v", calls, err, r.Tripped())
	}
	calls = 0
	err = r.Do(ctx, func() error { calls++; return errors.New("connection refused") })
	if calls != 3 || err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts: connection refused") || !r.Tripped() {
		t.Fatalf("retryable error: %d calls, %v, tripped %v; want 3 calls and a tripped Retrier", calls, err, r.Tripped())
	}
	calls = 0
	if err := r.Do(ctx, func() error { calls++; return nil }); calls != 0 || !errors.Is(err, ErrDown) || backend.Retryable(err) {
		t.Fatalf("after tripping: %d calls, %v; want none and ErrDown, not retryable", calls, err)
	}
}

// TestDoCancelled: a cancelled context ends the wait for a retry.
func TestDoCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := New(5, time.Hour)
	calls := 0
	err := r.Do(ctx, func() error { calls++; cancel(); return errors.New("timeout") })
	if calls != 1 || !errors.Is(err, context.Canceled) {
		t.Fatalf("%d calls, %v; want 1 call and context.Canceled", calls, err)
	}
}
