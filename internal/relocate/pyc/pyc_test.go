package pyc

import "testing"

// TestSipHash checks SipHash-2-4 against the test vector of its paper
// (Aumasson and Bernstein, "SipHash: a fast short-input PRF", appendix A:
// key 00..0f, message 00..0e). The 1-3 variant (CPython 3.11 and later)
// is checked against the host's Python by relocate's
// TestCopyFixesCheckedPyc.
func TestSipHash(t *testing.T) {
	msg := make([]byte, 15)
	for i := range msg {
		msg[i] = byte(i)
	}
	if got := sipHash(2, 4, 0x0706050403020100, 0x0f0e0d0c0b0a0908, msg); got != 0xa129ca6149be45e5 {
		t.Errorf("SipHash-2-4 = %#x, want 0xa129ca6149be45e5", got)
	}
}

func TestSource(t *testing.T) {
	for _, tc := range []struct{ pyc, want string }{
		{"lib/pkg/__pycache__/mod.cpython-312.pyc", "lib/pkg/mod.py"},
		{"lib/pkg/__pycache__/mod.cpython-312.opt-1.pyc", "lib/pkg/mod.py"},
		{"lib/pkg/mod.pyc", "lib/pkg/mod.py"},
	} {
		if got := Source(tc.pyc); got != tc.want {
			t.Errorf("Source(%q) = %q, want %q", tc.pyc, got, tc.want)
		}
	}
}
