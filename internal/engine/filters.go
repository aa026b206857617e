package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Filters are Docker's --filter flags and the API's filters parameter:
// KEY -> values. Values of one key match when any matches; different
// keys must all match. Label filters are the exception, as in Docker:
// every label= and label!= value must hold.
type Filters map[string][]string

// ParseFilters reads --filter KEY=VALUE flags.
func ParseFilters(flags []string) (Filters, error) {
	f := Filters{}
	for _, fl := range flags {
		k, v, ok := strings.Cut(fl, "=")
		if !ok || k == "" {
			return nil, invalid(fmt.Errorf("bad format of filter %q (expected name=value)", fl))
		}
		k = strings.ToLower(strings.TrimSpace(k))
		f[k] = append(f[k], v)
	}
	return f, nil
}

// check refuses keys the caller does not know, as Docker does.
func (f Filters) check(known ...string) error {
	for k := range f {
		if !slices.Contains(known, k) {
			return invalid(fmt.Errorf("invalid filter '%s'", k))
		}
	}
	return nil
}

// any reports whether key is absent or one of its values satisfies ok.
func (f Filters) any(key string, ok func(v string) bool) bool {
	vals, set := f[key]
	return !set || slices.ContainsFunc(vals, ok)
}

// labels checks label= (KEY or KEY=VALUE present) and label!= (absent,
// or different) against labels: all must hold.
func (f Filters) labels(labels map[string]string) bool {
	for _, v := range f["label"] {
		k, want, hasV := strings.Cut(v, "=")
		if got, ok := labels[k]; !ok || hasV && got != want {
			return false
		}
	}
	for _, v := range f["label!"] {
		k, want, hasV := strings.Cut(v, "=")
		if got, ok := labels[k]; ok && (!hasV || got == want) {
			return false
		}
	}
	return true
}

// boolean reads a true/false filter (dangling=true).
func (f Filters) boolean(key string) (value, set bool, err error) {
	vals := f[key]
	if len(vals) == 0 {
		return false, false, nil
	}
	for _, v := range vals {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, false, invalid(fmt.Errorf("invalid filter '%s=%s': want true or false", key, v))
		}
		if b != mustBool(vals[0]) {
			return false, false, invalid(fmt.Errorf("conflicting values for filter '%s'", key))
		}
	}
	return mustBool(vals[0]), true, nil
}

func mustBool(s string) bool {
	b, _ := strconv.ParseBool(s)
	return b
}

// until reads the until= filter of prune: objects created before it
// match. Zero when not set.
func (f Filters) until(now time.Time) (time.Time, error) {
	vals := f["until"]
	if len(vals) == 0 {
		return time.Time{}, nil
	}
	if len(vals) > 1 {
		return time.Time{}, invalid(fmt.Errorf("more than one until filter"))
	}
	t, err := ParseTime(vals[0], now)
	if err != nil {
		return time.Time{}, invalid(fmt.Errorf("until filter: %w", err))
	}
	return t, nil
}

// ParseTime reads a time as Docker's --since, --until and until=
// filters do: RFC 3339 (with or without the zone), a date, Unix
// seconds with an optional fraction, or a duration before now (10m).
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	if sec, frac, _ := strings.Cut(s, "."); sec != "" {
		if n, err := strconv.ParseInt(sec, 10, 64); err == nil {
			ns := int64(0)
			if frac != "" {
				f, err := strconv.ParseFloat("0."+frac, 64)
				if err != nil {
					return time.Time{}, fmt.Errorf("%q: bad fraction of a second", s)
				}
				ns = int64(f * 1e9)
			}
			return time.Unix(n, ns), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want a timestamp (RFC 3339 or Unix seconds) or a duration (10m)", s)
}

// timeNow is the clock filters read (a variable for tests).
var timeNow = time.Now
