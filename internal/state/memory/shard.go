package memory

import (
	"strings"
	"sync"

	"aya/internal/state"
)

// shard is one independently locked part of the store: a map from key to entry, and the
// entries in a doubly linked list from most (head) to least (tail) recently used.
type shard struct {
	mu   sync.Mutex
	m    map[string]*entry
	head *entry
	tail *entry
	max  int
	// keep shards on separate cache lines, so neighbours' locks do not contend
	_ [64]byte
}

// entry is one key's cell. It is reused for another key when the shard is full.
type entry struct {
	key     string
	alg     state.Algorithm
	cell    state.Cell
	expires int64 // Unix ns from which the cell is as good as fresh
	prev    *entry
	next    *entry
}

func (sh *shard) init(max int) {
	sh.m = make(map[string]*entry)
	sh.max = max
}

func (sh *shard) allow(key string, l *state.Limit, now int64) state.Decision {
	sh.mu.Lock()
	e, ok := sh.m[key]
	if ok {
		sh.toFront(e)
		if e.alg != l.Algorithm {
			// the same key under another algorithm: its cell means something else
			e.alg, e.cell = l.Algorithm, state.Cell{}
		}
	} else {
		e = sh.add(key, l.Algorithm)
	}
	d, exp := l.Decide(&e.cell, now)
	e.expires = exp
	sh.mu.Unlock()
	return d
}

// add makes an entry for key, reusing the least recently used one when the shard is full.
func (sh *shard) add(key string, alg state.Algorithm) *entry {
	var e *entry
	if len(sh.m) >= sh.max && sh.tail != nil {
		e = sh.tail
		sh.remove(e)
		log := e.cell.Log
		*e = entry{cell: state.Cell{Log: log}}
	} else {
		e = &entry{}
	}
	e.key, e.alg = strings.Clone(key), alg
	sh.m[e.key] = e
	sh.pushFront(e)
	return e
}

func (sh *shard) sweep(now int64) int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := 0
	for e := sh.tail; e != nil; {
		prev := e.prev
		if e.expires <= now {
			sh.remove(e)
			n++
		}
		e = prev
	}
	return n
}

// remove takes e out of the map and the list.
func (sh *shard) remove(e *entry) {
	delete(sh.m, e.key)
	sh.unlink(e)
}

func (sh *shard) toFront(e *entry) {
	if sh.head == e {
		return
	}
	sh.unlink(e)
	sh.pushFront(e)
}

func (sh *shard) pushFront(e *entry) {
	e.prev, e.next = nil, sh.head
	if sh.head != nil {
		sh.head.prev = e
	}
	sh.head = e
	if sh.tail == nil {
		sh.tail = e
	}
}

func (sh *shard) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		sh.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		sh.tail = e.prev
	}
	e.prev, e.next = nil, nil
}
