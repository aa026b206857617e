package engine

import (
	"errors"
	"testing"
	"time"
)

func TestFiltersOrWithinAKeyAndAcrossKeys(t *testing.T) {
	f, err := ParseFilters([]string{"name=web", "name=db", "status=running"})
	if err != nil {
		t.Fatal(err)
	}
	if !f.any("name", func(v string) bool { return v == "db" }) {
		t.Error("values of one key must be ORed: db should match")
	}
	if f.any("name", func(v string) bool { return v == "cache" }) {
		t.Error("cache matches no name value")
	}
	if !f.any("absent", func(string) bool { return false }) {
		t.Error("an absent key matches everything")
	}
}

func TestFiltersRejectUnknownKeysAndBadValues(t *testing.T) {
	if _, err := ParseFilters([]string{"noequals"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a filter without = is invalid, got %v", err)
	}
	f, _ := ParseFilters([]string{"bogus=1"})
	if err := f.check("name"); !errors.Is(err, ErrInvalid) || err.Error() != "invalid filter 'bogus'" {
		t.Errorf("unknown key: %v", err)
	}
	f, _ = ParseFilters([]string{"dangling=maybe"})
	if _, _, err := f.boolean("dangling"); !errors.Is(err, ErrInvalid) {
		t.Errorf("dangling=maybe: %v", err)
	}
	f, _ = ParseFilters([]string{"dangling=true", "dangling=false"})
	if _, _, err := f.boolean("dangling"); err == nil {
		t.Error("conflicting dangling values must fail")
	}
}

func TestFiltersLabelsAllMustHold(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front"}
	for _, c := range []struct {
		flags []string
		want  bool
	}{
		{[]string{"label=app"}, true},
		{[]string{"label=app=web"}, true},
		{[]string{"label=app=db"}, false},
		{[]string{"label=app", "label=tier=front"}, true},
		{[]string{"label=app", "label=missing"}, false},
		{[]string{"label!=app=db"}, true},
		{[]string{"label!=app"}, false},
		{[]string{"label!=tier=front"}, false},
	} {
		f, err := ParseFilters(c.flags)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.labels(labels); got != c.want {
			t.Errorf("%v: got %v, want %v", c.flags, got, c.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"10m":                  now.Add(-10 * time.Minute),
		"2026-11-30T10:00:00Z": time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC),
		"1700000000":           time.Unix(1700000000, 0),
		"1700000000.5":         time.Unix(1700000000, 5e8),
	} {
		got, err := ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: got %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseTime("yesterday", now); err == nil {
		t.Error("yesterday is not a time berth reads")
	}
	f, _ := ParseFilters([]string{"until=1h"})
	if u, err := f.until(now); err != nil || !u.Equal(now.Add(-time.Hour)) {
		t.Errorf("until=1h: %v %v", u, err)
	}
}

func TestReferenceGlobsKnowARegistryPortFromATag(t *testing.T) {
	for _, c := range []struct {
		pat, repo, tag string
		want           bool
	}{{"localhost:5000/app", "localhost:5000/app", "v1", true}, {"localhost:5000/app:v1", "localhost:5000/app", "v1", true},
		{"localhost:5000/app:v2", "localhost:5000/app", "v1", false}, {"busy*", "busybox", "latest", true}, {"busybox:l*", "busybox", "latest", true}} {
		if got := globMatch(c.pat, c.repo, c.tag); got != c.want {
			t.Errorf("%s ~ %s:%s = %v", c.pat, c.repo, c.tag, got)
		}
	}
}
