// Package fileserver is the launcher's static file server: a runtime.json
// worker with "static" serves a directory of the closure over HTTP, with
// the defaults a public web server needs (nginx's and Caddy's, compared in
// docs/fileserver.md): bounded waits for slow clients, a connection cap, no
// directory listings, no file outside the served tree or the store, and no
// content-type sniffing.
package fileserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// Limits bound what one client can hold. The zero value of a field means
// its default.
type Limits struct {
	// Header is the time a client has to send a request's headers
	// (nginx's client_header_timeout: 60 s).
	Header time.Duration
	// Read is the time to read a whole request (60 s).
	Read time.Duration
	// Send is the time one write of the response may block on a client
	// that does not read (nginx's send_timeout: 60 s, between two writes).
	Send time.Duration
	// Idle is how long a kept-alive connection may wait for its next
	// request (nginx's keepalive_timeout: 75 s).
	Idle time.Duration
	// Conns caps the open connections (1024, or less under a low file
	// limit); more wait in the kernel's accept queue.
	Conns int
	// HeaderBytes caps a request's header size (32 KiB, nginx's
	// large_client_header_buffers 4 8k).
	HeaderBytes int
}

// DefaultLimits are the limits Serve uses.
var DefaultLimits = Limits{Header: 60 * time.Second, Read: 60 * time.Second, Send: 60 * time.Second,
	Idle: 75 * time.Second, Conns: 1024, HeaderBytes: 32 << 10}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.Header > 0 {
		d.Header = l.Header
	}
	if l.Read > 0 {
		d.Read = l.Read
	}
	if l.Send > 0 {
		d.Send = l.Send
	}
	if l.Idle > 0 {
		d.Idle = l.Idle
	}
	if l.Conns > 0 {
		d.Conns = l.Conns
	} else if n := fileLimit(); n > 0 && n/2 < d.Conns {
		d.Conns = max(n/2, 16)
	}
	if l.HeaderBytes > 0 {
		d.HeaderBytes = l.HeaderBytes
	}
	return d
}

// fileLimit is the soft limit on open files, 0 when unknown.
func fileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return 0
	}
	return int(r.Cur)
}

// Server serves one directory.
type Server struct {
	files  *files
	limits Limits
	http   *http.Server
	// ConnState, when set before Serve, sees every connection's state
	// changes (tests count them).
	ConnState func(net.Conn, http.ConnState)
}

// New prepares a server of dir. dir must be a directory; symlinks in it
// are followed only to files inside it or inside the store it is in (see
// StoreOf).
func New(dir string, lim Limits) (*Server, error) {
	f, err := newFiles(dir)
	if err != nil {
		return nil, err
	}
	return &Server{files: f, limits: lim.withDefaults()}, nil
}

// Limits are the limits in force.
func (s *Server) Limits() Limits { return s.limits }

// Serve answers requests on l until it fails or Shutdown is called.
func (s *Server) Serve(l net.Listener) error {
	lim := s.limits
	s.http = &http.Server{
		Handler:           s.files,
		ReadHeaderTimeout: lim.Header,
		ReadTimeout:       lim.Read,
		IdleTimeout:       lim.Idle,
		MaxHeaderBytes:    lim.HeaderBytes,
		ConnState:         s.ConnState,
	}
	s.files.send = lim.Send
	return s.http.Serve(capListener(l, lim.Conns))
}

// Shutdown stops the server, waiting for requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.http == nil {
		return nil
	}
	return s.http.Shutdown(ctx)
}

// Serve serves dir on addr with DefaultLimits, logging to log what it
// serves and its limits. It returns only on failure.
func Serve(dir, addr string, log io.Writer) error {
	s, err := New(dir, Limits{})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("unable to listen on %s\n%w", addr, err)
	}
	lim := s.Limits()
	fmt.Fprintf(log, "nixbp-launch: serving %s on %s (headers within %s, idle %s, at most %d connections; symlinks only within it or %s)\n",
		dir, l.Addr(), lim.Header, lim.Idle, lim.Conns, orNone(s.files.store))
	return s.Serve(l)
}

func orNone(s string) string {
	if s == "" {
		return "nothing else"
	}
	return s
}

// storePathName is the name of a store path: 32 nixbase32 characters, a
// dash, a name.
var storePathName = regexp.MustCompile(`^[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+\-._?=]+$`)

// StoreOf is the store directory holding dir, the parent of the store
// path dir is in (/nix/store, or a relocated closure's directory such as
// /app/.nixs), or "" when dir is in none.
func StoreOf(dir string) string {
	for d := filepath.Clean(dir); d != "/" && d != "."; d = filepath.Dir(d) {
		if storePathName.MatchString(filepath.Base(d)) {
			return filepath.Dir(d)
		}
	}
	return ""
}

// capListener accepts at most n connections at a time: the next Accept
// waits for one to close, leaving new clients in the kernel's queue.
func capListener(l net.Listener, n int) net.Listener {
	return &cappedListener{Listener: l, slots: make(chan struct{}, n)}
}

type cappedListener struct {
	net.Listener
	slots chan struct{}
}

func (l *cappedListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &cappedConn{Conn: c, release: func() { <-l.slots }}, nil
}

type cappedConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// errNotRegular is a path that is neither a regular file nor a directory.
var errNotRegular = errors.New("not a regular file")

// errOutside is a path that resolves outside the served tree and the store.
var errOutside = errors.New("outside the served directory and the store")

// noSuchFile reports whether err means "answer 404".
func noSuchFile(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, errOutside) || errors.Is(err, syscall.ENOTDIR) ||
		errors.Is(err, syscall.ELOOP) || errors.Is(err, os.ErrPermission) || errors.Is(err, errNotRegular)
}
