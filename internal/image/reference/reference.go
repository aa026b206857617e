// Package reference parses image references the way Docker does and
// normalises them: "busybox" is docker.io/library/busybox:latest,
// "localhost:5000/app" keeps its registry and port, and a digest pins
// the content. Invalid references are refused with the reason.
package reference

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Defaults of the Docker reference grammar.
const (
	DefaultDomain = "docker.io"
	DefaultTag    = "latest"
	officialRepo  = "library"
	// Docker's legacy alias for its registry.
	legacyDomain = "index.docker.io"
	maxNameLen   = 255
)

// Reference is a normalised image reference: Domain and Path are always
// set; Tag is set unless only a digest was given.
type Reference struct {
	Domain string // registry host, with port if any: "docker.io", "127.0.0.1:5000"
	Path   string // repository path: "library/busybox"
	Tag    string // "latest"; empty when the reference is by digest only
	Digest string // "sha256:<hex>" or empty
}

// The patterns compile on first use: every berth process (the CLI, the
// monitor, a container's init stage) links this package, and compiling
// them at start cost 0.3 ms each time.
var (
	// A path component: lower-case alphanumerics joined by ".", "_", "__"
	// or any run of "-".
	componentRE = lazyRE(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	tagRE       = lazyRE(`^[\w][\w.-]{0,127}$`)
	digestRE    = lazyRE(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$`)
	sha256RE    = lazyRE(`^sha256:[a-f0-9]{64}$`)
	// A host name label, an IPv4 address, or a bracketed IPv6 address,
	// with an optional port.
	domainRE = lazyRE(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	// An ID: 64 hex digits, as `berth images --no-trunc` prints.
	idRE = lazyRE(`^[a-f0-9]{64}$`)
)

func lazyRE(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid reference format")

// Parse parses and normalises s. A name without a registry is on
// docker.io, a docker.io name without a slash is under library/, and a
// name with neither tag nor digest gets "latest".
func Parse(s string) (Reference, error) {
	r, err := parse(s)
	if err != nil {
		return Reference{}, fmt.Errorf("%w: %q: %s", ErrInvalid, s, err)
	}
	return r, nil
}

func parse(s string) (Reference, error) {
	if s == "" {
		return Reference{}, errors.New("empty")
	}
	var r Reference
	if i := strings.IndexByte(s, '@'); i >= 0 {
		r.Digest = s[i+1:]
		s = s[:i]
		if !digestRE().MatchString(r.Digest) {
			return Reference{}, fmt.Errorf("bad digest %q", r.Digest)
		}
		if strings.HasPrefix(r.Digest, "sha256:") && !sha256RE().MatchString(r.Digest) {
			return Reference{}, errors.New("a sha256 digest is 64 lower-case hex digits")
		}
	}
	// The tag is after the last colon, unless that colon belongs to a
	// registry port (it is followed by a slash then).
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i+1:], "/") {
		r.Tag = s[i+1:]
		s = s[:i]
		if !tagRE().MatchString(r.Tag) {
			return Reference{}, fmt.Errorf("bad tag %q", r.Tag)
		}
	}
	domain, path := splitDomain(s)
	if domain != "" && !domainRE().MatchString(domain) {
		return Reference{}, fmt.Errorf("bad registry %q", domain)
	}
	if path == "" {
		return Reference{}, errors.New("no repository name")
	}
	for _, c := range strings.Split(path, "/") {
		if !componentRE().MatchString(c) {
			if strings.ToLower(c) != c {
				return Reference{}, errors.New("repository name must be lowercase")
			}
			return Reference{}, fmt.Errorf("bad repository component %q", c)
		}
	}
	if domain == "" || domain == legacyDomain {
		domain = DefaultDomain
	}
	if domain == DefaultDomain && !strings.Contains(path, "/") {
		path = officialRepo + "/" + path
	}
	r.Domain, r.Path = domain, path
	// Docker measures the normalised name.
	if len(r.Name()) > maxNameLen {
		return Reference{}, fmt.Errorf("name longer than %d characters", maxNameLen)
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = DefaultTag
	}
	return r, nil
}

// splitDomain splits off the registry: the first component is one when
// it has a dot or a port, is "localhost", or has upper-case letters
// (which a repository cannot).
func splitDomain(s string) (domain, path string) {
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return "", s
	}
	first := s[:i]
	if strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first {
		return first, s[i+1:]
	}
	return "", s
}

// IsID reports whether s is a full image ID (64 hex digits, with or
// without "sha256:").
func IsID(s string) bool {
	return idRE().MatchString(strings.TrimPrefix(s, "sha256:"))
}

// Name is the repository: "docker.io/library/busybox".
func (r Reference) Name() string { return r.Domain + "/" + r.Path }

// String is the full normalised form: name, then ":tag", then "@digest".
func (r Reference) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Familiar is the short form Docker prints: "busybox:latest",
// "user/app:v1", "127.0.0.1:5000/app:v1".
func (r Reference) Familiar() string {
	name := FamiliarName(r.Name())
	if r.Tag != "" {
		name += ":" + r.Tag
	}
	if r.Digest != "" {
		name += "@" + r.Digest
	}
	return name
}

// FamiliarName shortens a normalised repository name the way Docker
// prints it.
func FamiliarName(name string) string {
	rest, ok := strings.CutPrefix(name, DefaultDomain+"/")
	if !ok {
		return name
	}
	if short, ok := strings.CutPrefix(rest, officialRepo+"/"); ok && !strings.Contains(short, "/") {
		return short
	}
	return rest
}

// Tagged is the reference without its digest (what a name in the image
// index records); by-digest-only references have no tagged form.
func (r Reference) Tagged() (string, bool) {
	if r.Tag == "" {
		return "", false
	}
	return r.Name() + ":" + r.Tag, true
}
