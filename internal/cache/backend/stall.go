package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// DefaultStallTimeout is how long a download may go without receiving a
// byte before it is abandoned, Nix's stalled-download-timeout default.
const DefaultStallTimeout = 300 * time.Second

// stallGuard bounds every get of a backend by progress, not by total time:
// a request that receives nothing for timeout (no response, or a body that
// stops arriving) is cancelled and fails with a retryable error, so the
// retrier tries again and, after its attempts, the path counts as missing
// and is built. Only dial and response headers are bounded below it (and
// only for http), and callers pass long-lived contexts.
type stallGuard struct {
	Backend
	timeout time.Duration
}

// errStalled is the cause a stalled request's context is cancelled with.
var errStalled = errors.New("stalled")

// stalledError is a download that received nothing for too long. It is not
// a PermanentError: a retry may find the server responsive again.
type stalledError struct {
	timeout time.Duration
}

func (e *stalledError) Error() string {
	return fmt.Sprintf("stalled: no data received for %s (%s)", e.timeout, settings.StallTimeoutName)
}

func (g stallGuard) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if g.timeout <= 0 {
		return g.Backend.Get(ctx, key)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	w := &stallWatch{cancel: cancel, ctx: ctx, timeout: g.timeout}
	w.timer = time.AfterFunc(g.timeout, func() { cancel(errStalled) })
	body, err := g.Backend.Get(ctx, key)
	if err != nil {
		w.stop()
		if err = w.cause(err); errors.As(err, new(*stalledError)) {
			err = fmt.Errorf("GET %s: %w", key, err)
		}
		return nil, err
	}
	w.disarm()
	return &stallBody{r: body, w: w}, nil
}

// stallWatch cancels one request when its timer fires. The timer runs only
// while the request waits for the server (in get, and in each Read of the
// body), so a slow consumer (a disk, the NAR parser) is not taken for a
// stalled server.
type stallWatch struct {
	mu      sync.Mutex
	timer   *time.Timer
	cancel  context.CancelCauseFunc
	ctx     context.Context
	timeout time.Duration
}

func (w *stallWatch) arm() {
	w.mu.Lock()
	w.timer.Reset(w.timeout)
	w.mu.Unlock()
}

func (w *stallWatch) disarm() {
	w.mu.Lock()
	w.timer.Stop()
	w.mu.Unlock()
}

func (w *stallWatch) stop() {
	w.disarm()
	w.cancel(nil)
}

// cause replaces err by a *stalledError when the request was cancelled for
// a stall.
func (w *stallWatch) cause(err error) error {
	if err != nil && errors.Is(context.Cause(w.ctx), errStalled) {
		return &stalledError{timeout: w.timeout}
	}
	return err
}

// stallBody is a response body each of whose reads must receive something
// within the stall timeout.
type stallBody struct {
	r io.ReadCloser
	w *stallWatch
}

func (b *stallBody) Read(p []byte) (int, error) {
	b.w.arm()
	n, err := b.r.Read(p)
	b.w.disarm()
	if err != nil && err != io.EOF {
		err = b.w.cause(err)
	}
	return n, err
}

func (b *stallBody) Close() error {
	b.w.stop()
	return b.r.Close()
}
