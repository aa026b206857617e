package v1

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDeviceListChangesOnlyTheDifference(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	cur, ok := parseDeviceList("c 1:3 rwm\nc 1:5 rwm\nc 136:* rwm\nc *:* m\n")
	if !ok {
		t.Fatal("a whitelist read as allow-all")
	}
	// The container's config again, with /dev/zero now denied and tun
	// allowed: deny all, then the allowed devices.
	rules := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: n(1), Minor: n(3), Access: "rwm"},
		{Allow: true, Type: "c", Major: n(136), Access: "rwm"},
		{Allow: true, Type: "c", Access: "m"},
		{Allow: true, Type: "c", Major: n(10), Minor: n(200), Access: "rw"},
		{Allow: false, Type: "c", Major: n(10), Minor: n(200), Access: "w"},
	}
	want, ok := cur.apply(rules)
	if !ok {
		t.Fatal("the rules read as allow-all")
	}
	allow, deny := deviceWrites(cur, want)
	slices.Sort(allow)
	slices.Sort(deny)
	if !slices.Equal(allow, []string{"c 10:200 r"}) || !slices.Equal(deny, []string{"c 1:5 rwm"}) {
		t.Fatalf("writes: allow %q, deny %q", allow, deny)
	}
	if _, ok := parseDeviceList("a *:* rwm\n"); ok {
		t.Fatal("allow-all read as a whitelist")
	}
	if _, ok := cur.apply([]specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}); ok {
		t.Fatal("allow all read as a whitelist")
	}
}
