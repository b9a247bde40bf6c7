package store

import (
	"strings"
	"testing"
)

type rec struct {
	N    int
	Name string
}

func TestPutGetListDeleteSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put("keys", "a", rec{1, "a"}); err != nil {
		t.Fatal(err)
	}
	if err := PutAll(s, "keys", map[string]rec{"b": {2, "b"}, "c": {3, "c"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("keys", "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("nobucket", "x"); err != nil {
		t.Fatalf("deleting from a missing bucket: %v", err)
	}
	s.Close()

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	if err := List(s, "keys", func(k string, v rec) { got = append(got, k+"="+v.Name) }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "a=a,c=c" {
		t.Fatalf("after reopen: %v", got)
	}
	var r rec
	if ok, err := s.Get("keys", "c", &r); !ok || err != nil || r.N != 3 {
		t.Fatalf("get c: %v %v %+v", ok, err, r)
	}
	if ok, _ := s.Get("keys", "b", &r); ok {
		t.Fatal("a deleted value came back")
	}
	if ok, _ := s.Get("none", "x", &r); ok {
		t.Fatal("a missing bucket gave a value")
	}
}

func TestSecondOpenIsRefusedClearly(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "another aya") {
		t.Fatalf("second open: %v", err)
	}
}
