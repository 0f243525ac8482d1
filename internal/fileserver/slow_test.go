package fileserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// dripper opens a connection and sends a request's headers one line a
// second, never finishing them (slowloris), until the server closes the
// connection; closed is closed then.
func dripper(t *testing.T, addr string) (closed <-chan struct{}) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n")
		go func() { // the server closing the connection ends the read
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}()
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(c, "X-Drip-%d: a\r\n", i); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
	}()
	return done
}

// longWait bounds a wait that only a hang would exceed (the machine may be
// loaded: no timing is asserted).
const longWait = 3 * time.Minute

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(longWait):
		t.Fatalf("%s still open after %s", what, longWait)
	}
}

// TestSlowClients is issue 21, row 4: clients that drip their headers,
// or stop reading a response, are disconnected after the header and send
// timeouts, and do not keep a normal request from being answered.
func TestSlowClients(t *testing.T) {
	_, public := site(t)
	get := func(t *testing.T, addr string) {
		t.Helper()
		client := &http.Client{Timeout: longWait}
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("a normal request beside slow clients: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("a normal request beside slow clients: %s", resp.Status)
		}
	}

	t.Run("80 dripping connections, default limits", func(t *testing.T) {
		_, addr := start(t, public, Limits{}, nil)
		for range 80 {
			dripper(t, addr)
		}
		get(t, addr)
	})

	t.Run("a dripping connection is closed after the header timeout", func(t *testing.T) {
		_, addr := start(t, public, Limits{Header: time.Second, Read: time.Second}, nil)
		waitClosed(t, dripper(t, addr), "a connection dripping its headers")
	})

	t.Run("the connection cap holds, and frees as slow clients time out", func(t *testing.T) {
		var open, most atomic.Int64
		var mu sync.Mutex
		seen := map[net.Conn]bool{}
		state := func(c net.Conn, s http.ConnState) {
			mu.Lock()
			defer mu.Unlock()
			switch s {
			case http.StateNew:
				seen[c] = true
				n := open.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
			case http.StateClosed, http.StateHijacked:
				if seen[c] {
					delete(seen, c)
					open.Add(-1)
				}
			}
		}
		_, addr := start(t, public, Limits{Header: time.Second, Read: time.Second, Conns: 8}, state)
		var drips []<-chan struct{}
		for range 8 {
			drips = append(drips, dripper(t, addr))
		}
		get(t, addr) // waits in the accept queue until a dripper times out
		for _, d := range drips {
			waitClosed(t, d, "a dripping connection")
		}
		if m := most.Load(); m > 8 {
			t.Errorf("%d connections open at once, cap 8", m)
		}
	})

	t.Run("a client that stops reading is closed after the send timeout", func(t *testing.T) {
		big := filepath.Join(public, "big.bin")
		if err := os.WriteFile(big, make([]byte, 64<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(big) })
		closed := make(chan struct{})
		var once sync.Once
		state := func(c net.Conn, s http.ConnState) {
			if s == http.StateClosed {
				once.Do(func() { close(closed) })
			}
		}
		_, addr := start(t, public, Limits{Send: time.Second}, state)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		fmt.Fprintf(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
		waitClosed(t, closed, "a connection that stopped reading 64 MiB")
	})
}
