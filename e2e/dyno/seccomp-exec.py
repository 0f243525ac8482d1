#!/usr/bin/python3
"""seccomp-exec.py COMMAND [ARG...]: run COMMAND under the seccomp filter of
a Heroku dyno (and of Docker's default profile for an unprivileged
container): unshare, setns, mount, ptrace and clone with CLONE_NEWUSER fail
with EPERM, clone3 with ENOSYS (so that libc falls back to clone, where the
flag can be seen). So neither user namespaces nor proot can run, and a test
that passes under it cannot rely on them.

Needs Debian's python3-seccomp (libseccomp's bindings), hence /usr/bin/python3.
"""
import errno
import os
import sys

import seccomp

CLONE_NEWUSER = 0x10000000


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in ("unshare", "setns", "mount", "ptrace"):
        f.add_rule(seccomp.ERRNO(errno.EPERM), name)
    f.add_rule(seccomp.ERRNO(errno.EPERM), "clone",
               seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    f.load()  # sets no_new_privs first, as an unprivileged process must
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
