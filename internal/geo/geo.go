// Package geo answers which country an IP address is in, from a MaxMind-format database
// (GeoLite2-Country, GeoIP2-Country or -City, or any database whose records carry
// country.iso_code). Route matching uses it for match.country.
//
// It knows nothing of routes, requests or config: it maps an address to an ISO 3166-1
// alpha-2 code.
package geo

import (
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
)

// DB is an opened country database, held in memory. It is safe for concurrent use and needs no
// closing: the file is read whole rather than memory-mapped, so a lookup that races a reload
// never touches an unmapped page.
type DB struct {
	r *maxminddb.Reader
	// codes caches each data record's country code by the record's offset. A country database
	// has a few thousand distinct records at most however many networks point at them, so
	// after warm-up a lookup is a tree walk and a map read, with nothing decoded or allocated.
	// The map is copied on write: reads take no lock.
	codes atomic.Pointer[map[uintptr]string]
	mu    sync.Mutex // serializes cache writers
}

// maxCached bounds the cache for a database that is not a country database after all (a City
// database with a record per network would otherwise grow it without end).
const maxCached = 1 << 16

// Open reads the database at path.
func Open(path string) (*DB, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("geoip database: %w", err)
	}
	db, err := FromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("geoip database %s: %w", path, err)
	}
	return db, nil
}

// FromBytes opens a database held in b; b must not change afterwards.
func FromBytes(b []byte) (*DB, error) {
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("not a MaxMind DB file (expected a .mmdb such as GeoLite2-Country.mmdb): %w", err)
	}
	db := &DB{r: r}
	empty := map[uintptr]string{}
	db.codes.Store(&empty)
	return db, nil
}

// Type is the database type from its metadata ("GeoLite2-Country").
func (d *DB) Type() string { return d.r.Metadata.DatabaseType }

// record is the part of a record aya reads. registered_country stands in when country is
// missing (an anycast or satellite network has only the registration).
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Registered struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

// Country returns the ISO 3166-1 alpha-2 code (upper case) of ip's country, or "" when the
// address is invalid, not in the database, or its record has no country.
func (d *DB) Country(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	res := d.r.Lookup(ip.Unmap())
	if !res.Found() {
		return ""
	}
	off := res.Offset()
	if code, ok := (*d.codes.Load())[off]; ok {
		return code
	}
	var rec record
	if err := res.Decode(&rec); err != nil {
		return ""
	}
	code := rec.Country.ISOCode
	if code == "" {
		code = rec.Registered.ISOCode
	}
	d.remember(off, code)
	return code
}

func (d *DB) remember(off uintptr, code string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := *d.codes.Load()
	if _, ok := old[off]; ok || len(old) >= maxCached {
		return
	}
	next := make(map[uintptr]string, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[off] = code
	d.codes.Store(&next)
}
