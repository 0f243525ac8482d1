package cache

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Progress is a snapshot of a running Fetch, Push or Verify.
type Progress struct {
	Op         string // "fetch", "push" or "verify"
	PathsDone  int
	PathsTotal int
	BytesDone  int64 // transferred (compressed) bytes
	BytesTotal int64
	Elapsed    time.Duration
}

// Throughput is BytesDone per second of Elapsed.
func (p Progress) Throughput() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.BytesDone) / p.Elapsed.Seconds()
}

func (p Progress) String() string {
	return fmt.Sprintf("%d/%d paths, %s/%s, %s/s, %.1f s", p.PathsDone, p.PathsTotal,
		mib(p.BytesDone), mib(p.BytesTotal), mib(int64(p.Throughput())), p.Elapsed.Seconds())
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// tracker counts work done and reports it every interval to the log and
// the Progress callback, and collects warnings.
type tracker struct {
	c          *Cache
	op         string
	start      time.Time
	paths      atomic.Int64
	bytes      atomic.Int64
	pathsTotal atomic.Int64
	bytesTotal atomic.Int64
	stop       chan struct{}
	done       sync.WaitGroup

	mu       sync.Mutex
	warnings []string
}

func newTracker(c *Cache, op string) *tracker {
	return &tracker{c: c, op: op, start: time.Now()}
}

func (t *tracker) snapshot() Progress {
	return Progress{Op: t.op, PathsDone: int(t.paths.Load()), PathsTotal: int(t.pathsTotal.Load()),
		BytesDone: t.bytes.Load(), BytesTotal: t.bytesTotal.Load(), Elapsed: time.Since(t.start)}
}

// addTotal adds work to the totals the reports show.
func (t *tracker) addTotal(paths int, bytes int64) {
	t.pathsTotal.Add(int64(paths))
	t.bytesTotal.Add(bytes)
}

// run starts periodic reports.
func (t *tracker) run() {
	t.stop = make(chan struct{})
	t.done.Add(1)
	go func() {
		defer t.done.Done()
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-tick.C:
				p := t.snapshot()
				t.c.logf("  %s", p)
				if t.c.opts.Progress != nil {
					t.c.opts.Progress(p)
				}
			}
		}
	}()
}

// finish stops the reports and sends the final snapshot to the callback.
func (t *tracker) finish() Progress {
	if t.stop != nil {
		close(t.stop)
		t.done.Wait()
		t.stop = nil
	}
	p := t.snapshot()
	if t.c.opts.Progress != nil {
		t.c.opts.Progress(p)
	}
	return p
}

// warn records a warning and logs it.
func (t *tracker) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.mu.Lock()
	t.warnings = append(t.warnings, msg)
	t.mu.Unlock()
	t.c.logf("warning: %s", msg)
}

func (t *tracker) takeWarnings() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.warnings...)
}
