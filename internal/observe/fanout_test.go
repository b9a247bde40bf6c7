package observe

import (
	"sync"
	"testing"
)

type countSink struct {
	mu sync.Mutex
	n  int
}

func (c *countSink) Record(*Record) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

func (c *countSink) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func TestFanout(t *testing.T) {
	var f Fanout
	f.Record(&Record{}) // no sinks: nothing happens
	a, b := &countSink{}, &countSink{}
	removeA := f.Add(a)
	removeB1 := f.Add(b)
	f.Add(b)
	f.Record(&Record{})
	if a.count() != 1 || b.count() != 2 || f.Len() != 3 {
		t.Fatalf("a=%d b=%d len=%d", a.count(), b.count(), f.Len())
	}
	removeA()
	removeA()
	removeB1()
	f.Record(&Record{})
	if a.count() != 1 || b.count() != 3 || f.Len() != 1 {
		t.Fatalf("after remove: a=%d b=%d len=%d", a.count(), b.count(), f.Len())
	}
}

func TestFanoutConcurrent(t *testing.T) {
	var f Fanout
	s := &countSink{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 200 {
				f.Add(s)()
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				f.Record(&Record{})
			}
		}()
	}
	wg.Wait()
	if f.Len() != 0 {
		t.Fatalf("len %d", f.Len())
	}
}

func BenchmarkFanout(b *testing.B) {
	var f Fanout
	f.Add(&countSink{})
	r := &Record{}
	b.ReportAllocs()
	for b.Loop() {
		f.Record(r)
	}
}
