package reference

import (
	"errors"
	"strings"
	"testing"
)

const hexDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseNormalises(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                               "docker.io/library/busybox:latest",
		"busybox:1.36":                          "docker.io/library/busybox:1.36",
		"library/busybox":                       "docker.io/library/busybox:latest",
		"user/app":                              "docker.io/user/app:latest",
		"docker.io/busybox":                     "docker.io/library/busybox:latest",
		"index.docker.io/busybox":               "docker.io/library/busybox:latest",
		"localhost/app":                         "localhost/app:latest",
		"localhost:5000/app:v1":                 "localhost:5000/app:v1",
		"127.0.0.1:5000/a/b/c:v1.2-rc_3":        "127.0.0.1:5000/a/b/c:v1.2-rc_3",
		"[::1]:5000/app":                        "[::1]:5000/app:latest",
		"quay.io/a__b/c-d--e.f":                 "quay.io/a__b/c-d--e.f:latest",
		"busybox@" + hexDigest:                  "docker.io/library/busybox@" + hexDigest,
		"busybox:1@" + hexDigest:                "docker.io/library/busybox:1@" + hexDigest,
		"Registry.Example.com:443/team/app:TAG": "Registry.Example.com:443/team/app:TAG",
	} {
		r, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if r.String() != want {
			t.Errorf("Parse(%q) = %q, want %q", in, r.String(), want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for in, why := range map[string]string{
		"":                                    "empty",
		"Busybox":                             "lowercase",
		"busybox:":                            "bad tag",
		"busybox:-x":                          "bad tag",
		"busybox:" + strings.Repeat("a", 129): "bad tag",
		"busybox@sha256:abc":                  "bad digest",
		"busybox@sha256:" + strings.Repeat("A", 64): "64 lower-case",
		"a//b":                   "component",
		"a/b/":                   "component",
		"-a":                     "component",
		"a..b":                   "component",
		"host:5000/":             "no repository",
		"bad_host.com:x/app":     "registry",
		strings.Repeat("a", 256): "longer than",
		"a b":                    "component",
	} {
		_, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error about %s", in, why)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), why) {
			t.Errorf("Parse(%q) = %v, want %s", in, err, why)
		}
	}
}

func TestFamiliar(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":               "busybox:latest",
		"user/app:1":            "user/app:1",
		"docker.io/library/a/b": "library/a/b:latest",
		"127.0.0.1:5000/app":    "127.0.0.1:5000/app:latest",
		"busybox@" + hexDigest:  "busybox@" + hexDigest,
	} {
		r, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Familiar(); got != want {
			t.Errorf("Familiar(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsID(t *testing.T) {
	if !IsID(hexDigest) || !IsID(strings.TrimPrefix(hexDigest, "sha256:")) || IsID("abc") || IsID("busybox") {
		t.Fatal("IsID misjudges")
	}
}

// FuzzParse checks that parsing never panics and that what it accepts
// is a fixed point: the normalised string parses to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"busybox", "localhost:5000/a/b:c", "x@" + hexDigest, "[::1]/x", "a:b:c", "@", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(r.String())
		if err != nil {
			t.Fatalf("normalised %q of %q does not parse: %v", r.String(), s, err)
		}
		if again != r {
			t.Fatalf("normalised %q of %q is not a fixed point: %+v vs %+v", r.String(), s, again, r)
		}
	})
}
