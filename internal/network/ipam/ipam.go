// Package ipam hands out a network's addresses: one lease file per
// network, changed only under its lock, so concurrent containers never
// get the same address. Leases are keyed by owner (a container ID):
// asking again returns the owner's address.
package ipam

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/berth-project/berth/internal/state"
)

// Pool is one network's address space.
type Pool struct {
	Dir     string       // holds leases.json and its lock
	Subnet  netip.Prefix // the network
	Range   netip.Prefix // where addresses are drawn (zero: the subnet)
	Gateway netip.Addr   // never handed out
	// Reserved are never handed out either: others' addresses on the
	// subnet (a network's --aux-address).
	Reserved []netip.Addr
}

type leases struct {
	// Last is the address handed out last: the next search starts after
	// it, so a released address is not reused at once.
	Last   netip.Addr            `json:"last"`
	Owners map[netip.Addr]string `json:"owners"`
}

// ErrExhausted says the range has no free address.
var ErrExhausted = errors.New("no free address in the network's range")

func (p Pool) file() string { return filepath.Join(p.Dir, "leases.json") }

func (p Pool) update(fn func(*leases) error) error {
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return err
	}
	unlock, err := state.Flock(filepath.Join(p.Dir, ".leases.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	l := leases{Owners: map[netip.Addr]string{}}
	b, err := os.ReadFile(p.file())
	if err == nil {
		if err := json.Unmarshal(b, &l); err != nil {
			return fmt.Errorf("leases of %s: %w", p.Subnet, err)
		}
		if l.Owners == nil {
			l.Owners = map[netip.Addr]string{}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := fn(&l); err != nil {
		return err
	}
	b, err = json.Marshal(l)
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(p.file(), b, 0o600)
}

// usable reports whether a can be handed out: inside the range and the
// subnet, not the network or broadcast address, not the gateway.
func (p Pool) usable(a netip.Addr) bool {
	r := p.Range
	if !r.IsValid() {
		r = p.Subnet
	}
	if !r.Contains(a) || !p.Subnet.Contains(a) || a == p.Gateway || a == p.Subnet.Masked().Addr() || slices.Contains(p.Reserved, a) {
		return false
	}
	return a.Is6() || a != lastAddr(p.Subnet) // IPv6 has no broadcast address
}

// lastAddr is the broadcast address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	hostBits := 32 - p.Bits()
	for i := 3; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		b[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	return netip.AddrFrom4(b)
}

// Allocate leases an address to owner: want if given (and free), else
// the next free one. An owner that holds a lease gets it again.
func (p Pool) Allocate(owner string, want netip.Addr) (netip.Addr, error) {
	var got netip.Addr
	err := p.update(func(l *leases) error {
		for a, o := range l.Owners {
			if o == owner && (!want.IsValid() || want == a) {
				got = a
				return nil
			}
		}
		if want.IsValid() {
			if !p.usable(want) {
				return fmt.Errorf("address %s is not usable in %s", want, p.Subnet)
			}
			if o, taken := l.Owners[want]; taken {
				return fmt.Errorf("address %s is already in use by container %.12s", want, o)
			}
			got = want
		} else {
			r := p.Range
			if !r.IsValid() {
				r = p.Subnet
			}
			start := l.Last
			if !start.IsValid() || !r.Contains(start) {
				start = r.Masked().Addr()
			}
			a := start
			for {
				a = a.Next()
				if !r.Contains(a) {
					a = r.Masked().Addr()
				}
				if _, taken := l.Owners[a]; !taken && p.usable(a) {
					got = a
					break
				}
				if a == start {
					return fmt.Errorf("%w %s", ErrExhausted, r)
				}
			}
		}
		l.Owners[got] = owner
		l.Last = got
		return nil
	})
	return got, err
}

// Release gives back owner's lease; none is not an error.
func (p Pool) Release(owner string) error {
	return p.update(func(l *leases) error {
		for a, o := range l.Owners {
			if o == owner {
				delete(l.Owners, a)
			}
		}
		return nil
	})
}

// Leases returns address -> owner.
func (p Pool) Leases() (map[netip.Addr]string, error) {
	var out map[netip.Addr]string
	err := p.update(func(l *leases) error { out = l.Owners; return nil })
	return out, err
}
