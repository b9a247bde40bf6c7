package cache

import "sync"

// flights coalesces concurrent fetches of one key: the first request (the leader) goes
// upstream, the others wait for it and then look the key up again.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done chan struct{}
}

// join returns the key's flight in progress (leader false), or starts one (leader true) that
// the caller must end with leave.
func (fs *flights) join(key string) (f *flight, leader bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		return f, false
	}
	if fs.m == nil {
		fs.m = make(map[string]*flight)
	}
	f = &flight{done: make(chan struct{})}
	fs.m[key] = f
	return f, true
}

// leave ends the leader's flight and wakes its followers.
func (fs *flights) leave(key string, f *flight) {
	fs.mu.Lock()
	if fs.m[key] == f {
		delete(fs.m, key)
	}
	fs.mu.Unlock()
	close(f.done)
}
