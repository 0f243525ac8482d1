// Package backend is where a binary cache's objects live: an S3 bucket
// (s3://), a directory (file://), an HTTP(S) server (http://, https://).
// Each transport is one Backend; Open picks it by the URL's scheme, so a new
// transport plugs in here (a type with Get, Exists, Put, List, its URL
// parameters, and a case in Open). The cache protocol (narinfos, NARs,
// pointers, retries) is package cache's; a backend moves bytes and says
// which failures are worth retrying.
package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Backend is one cache's store of objects. Keys are relative to the cache
// root ("nix-cache-info", "<hash>.narinfo", "nar/<filehash>.nar.zst",
// "nixbp/source/<digest>.json"). Errors never contain credentials; a
// missing object is ErrNotFound, an error no retry can fix is a
// *PermanentError, anything else is worth retrying.
type Backend interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Exists(ctx context.Context, key string) (bool, error)
	// Put stores body (size bytes) under key; body is rewound for retries
	// by the caller, not by Put.
	Put(ctx context.Context, key string, body io.ReadSeeker, size int64, contentType string) error
	// List calls fn with the keys at the top level of the cache.
	List(ctx context.Context, fn func(key string) error) error
}

// ErrNotFound is a backend's answer for a key it does not hold.
var ErrNotFound = errors.New("not found")

// PermanentError is a failure that retrying will not fix: wrong
// credentials, a missing bucket, a refused request, a corrupt object.
type PermanentError struct{ err error }

func (e *PermanentError) Error() string { return e.err.Error() }
func (e *PermanentError) Unwrap() error { return e.err }

// Permanent marks err (when not nil) as one no retry can fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{err}
}

// Permanentf is a new error that no retry can fix.
func Permanentf(format string, args ...any) error {
	return &PermanentError{fmt.Errorf(format, args...)}
}

// Retryable reports whether err is worth trying again: not a missing
// object, not a permanent failure, not a cancelled or expired context.
func Retryable(err error) bool {
	var p *PermanentError
	return err != nil && !errors.Is(err, ErrNotFound) && !errors.As(err, &p) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}
