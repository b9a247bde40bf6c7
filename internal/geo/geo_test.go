package geo

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// testDB builds a small country database: networks to ISO codes ("" records a network with
// only a registered_country of "SE").
func testDB(t testing.TB, nets map[string]string) []byte {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "Test-Country", RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, code := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("SE")}}
		if code != "" {
			rec["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(code), "names": mmdbtype.Map{"en": mmdbtype.String(code + " land")}}
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCountry(t *testing.T) {
	b := testDB(t, map[string]string{"81.2.69.0/24": "DE", "2.3.4.0/24": "FR", "2a02:1::/32": "NL", "89.160.20.0/24": ""})
	db, err := FromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if db.Type() != "Test-Country" {
		t.Errorf("Type = %q", db.Type())
	}
	for _, tc := range []struct {
		ip   string
		want string
	}{
		{"81.2.69.7", "DE"},
		{"81.2.69.255", "DE"},
		{"2.3.4.5", "FR"},
		{"::ffff:2.3.4.5", "FR"}, // v4-mapped is the IPv4 address
		{"2a02:1::1", "NL"},
		{"89.160.20.1", "SE"}, // registered_country stands in
		{"8.8.8.8", ""},
		{"", ""},
	} {
		var ip netip.Addr
		if tc.ip != "" {
			ip = netip.MustParseAddr(tc.ip)
		}
		for range 2 { // the second lookup comes from the cache
			if got := db.Country(ip); got != tc.want {
				t.Errorf("Country(%s) = %q, want %q", tc.ip, got, tc.want)
			}
		}
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.mmdb")
	if err := os.WriteFile(p, testDB(t, map[string]string{"81.2.69.0/24": "DE"}), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := db.Country(netip.MustParseAddr("81.2.69.1")); got != "DE" {
		t.Errorf("Country = %q", got)
	}
	if _, err := Open(filepath.Join(dir, "missing.mmdb")); err == nil {
		t.Error("Open of a missing file succeeded")
	}
	junk := filepath.Join(dir, "junk.mmdb")
	os.WriteFile(junk, []byte("not a database"), 0o600)
	if _, err := Open(junk); err == nil {
		t.Error("Open of a non-database succeeded")
	}
}

func FuzzFromBytes(f *testing.F) {
	f.Add(testDB(f, map[string]string{"81.2.69.0/24": "DE"}))
	f.Add([]byte("\xAB\xCD\xEFMaxMind.com"))
	f.Fuzz(func(t *testing.T, b []byte) {
		db, err := FromBytes(b)
		if err != nil {
			return
		}
		db.Country(netip.MustParseAddr("81.2.69.1"))
		db.Country(netip.MustParseAddr("2a02:1::1"))
	})
}

func BenchmarkCountry(b *testing.B) {
	db, err := FromBytes(testDB(b, map[string]string{"81.2.69.0/24": "DE", "2.3.4.0/24": "FR"}))
	if err != nil {
		b.Fatal(err)
	}
	ip := netip.MustParseAddr("81.2.69.7")
	db.Country(ip)
	b.ReportAllocs()
	for b.Loop() {
		if db.Country(ip) != "DE" {
			b.Fatal("wrong country")
		}
	}
}
