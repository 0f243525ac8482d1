package k8s

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// inNetns runs f on an OS thread switched into the network namespace at
// path (a /proc/PID/ns/net): sockets f creates belong to that namespace and
// stay there after the thread switches back. This is how the tests reach the
// cluster's pods and serve it git and blob sources without any address of
// the cluster existing on the host.
func inNetns(path string, f func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("unable to open the cluster's network namespace %s\n%w", path, err)
	}
	defer target.Close()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	defer self.Close()
	runtime.LockOSThread()
	if err := setns(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("unable to enter the cluster's network namespace\n%w", err)
	}
	ferr := f()
	if err := setns(self); err != nil {
		// The thread stays locked, so it ends with this goroutine and
		// nothing else runs in the wrong namespace.
		return fmt.Errorf("unable to leave the cluster's network namespace\n%w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

func setns(f *os.File) error {
	return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
}

// dialIn is a DialContext that connects from inside the namespace at path.
func dialIn(path string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := inNetns(path, func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// Listen listens on the node's address inside the cluster's network
// namespace (a free port): pods reach it, the host does not.
func (c *Cluster) Listen() (net.Listener, error) {
	var l net.Listener
	err := inNetns(c.netns, func() error {
		var err error
		l, err = net.Listen("tcp", c.NodeIP+":0")
		return err
	})
	return l, err
}
