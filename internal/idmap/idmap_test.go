package idmap

import (
	"reflect"
	"testing"
)

func TestKeepIDMapsTheUserToThemselves(t *testing.T) {
	r := Range{Start: 1, Size: 65536, KeepID: true, UID: 1000, GID: 100}
	uids, gids := r.Map()
	if want := []Segment{{0, 1, 1000}, {1000, 0, 1}, {1001, 1001, 64535}}; !reflect.DeepEqual(uids, want) {
		t.Fatalf("uid_map %v, want %v", uids, want)
	}
	if want := []Segment{{0, 1, 100}, {100, 0, 1}, {101, 101, 65435}}; !reflect.DeepEqual(gids, want) {
		t.Fatalf("gid_map %v, want %v", gids, want)
	}
	// Every container ID goes to the host and back; the ones the map
	// has no place for go to the one host ID it leaves out.
	for _, id := range []uint32{0, 1, 99, 100, 101, 999, 1000, 1001, 65535} {
		hu, hg := r.HostIDs(id, id)
		if cu, cg := r.ContainerIDs(hu, hg); cu != id || cg != id {
			t.Errorf("%d -> %d:%d -> %d:%d", id, hu, hg, cu, cg)
		}
	}
	if u, _ := r.HostIDs(1000, 0); u != 0 {
		t.Errorf("the user's uid is host %d", u)
	}
	if u, _ := r.HostIDs(70000, 0); u != r.Unmapped() || u != 65536 {
		t.Errorf("an ID beyond the range is host %d", u)
	}
	for _, seg := range uids {
		if r.Unmapped() >= seg.Host && r.Unmapped() < seg.Host+seg.Size {
			t.Errorf("Unmapped %d is mapped by %v", r.Unmapped(), seg)
		}
	}
}

func TestRangeWithoutKeepIDIsAShift(t *testing.T) {
	r := Range{Start: 100000, Size: 65536}
	uids, gids := r.Map()
	if !reflect.DeepEqual(uids, []Segment{{0, 100000, 65536}}) || !reflect.DeepEqual(uids, gids) {
		t.Fatalf("map %v %v", uids, gids)
	}
	if u, g := r.HostIDs(5, 6); u != 100005 || g != 100006 {
		t.Fatalf("host %d:%d", u, g)
	}
	if u, g := r.ContainerIDs(100005, 42); u != 5 || g != 42 {
		t.Fatalf("container %d:%d (an ID below the range is left)", u, g)
	}
	if r.Key() != "100000-65536" || (Range{Start: 1, Size: 9, KeepID: true, UID: 3, GID: 4}).Key() != "1-9-keep-3-4" {
		t.Fatal("keys")
	}
	a := Allocator{File: t.TempDir() + "/ranges.json", First: 1, Limit: 65537}
	got, err := a.Allocate("c1", 4096)
	if err != nil || got != (Range{Start: 1, Size: 4096}) {
		t.Fatalf("allocate: %v %v", got, err)
	}
	if _, err := a.Allocate("c2", 65536); err == nil {
		t.Fatal("a range past the limit")
	}
	if !a.Fits(Range{Start: 1, Size: 65536}) || a.Fits(Range{Start: 60000, Size: 10000}) {
		t.Fatal("fits")
	}
}

func TestReadOwnInTheHostsNamespace(t *testing.T) {
	own, err := ReadOwn()
	if err != nil {
		t.Fatal(err)
	}
	// The initial namespace maps everything, its root to the host's.
	if own.UID != 0 || own.GID != 0 || own.Extent < 1<<31 {
		t.Fatalf("%+v", own)
	}
}
