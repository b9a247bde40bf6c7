//go:build !unix

package h1

// probe cannot peek at a socket here; the retry on a closed reused connection covers it.
func (cc *clientConn) probe() bool { return true }

func (cc *clientConn) probeFD(uintptr) bool { return true }
