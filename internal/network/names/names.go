// Package names answers what a container's name server is asked: the
// addresses of a name on the container's user-defined networks (the
// names, aliases and short IDs of the containers on them, and the
// container's own link aliases), read from the network store's records.
// It is apart from the network manager so that the monitor's idle stage,
// which serves those names for a container's life, links no netlink or
// nftables code.
package names

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultNetwork is the default bridge's name: its containers do not
// resolve each other by name, as on Docker's.
const DefaultNetwork = "bridge"

// The records' fields a lookup reads: the network manager writes them
// (internal/network: network.json and endpoints/ID.json per network).
type network struct {
	Name string `json:"Name"`
}

type endpoint struct {
	Container string       `json:"container"`
	Name      string       `json:"name"`
	Aliases   []string     `json:"aliases"`
	Addr      netip.Prefix `json:"addr"`
	Addr6     netip.Prefix `json:"addr6"`
	Links     []string     `json:"links"`
}

// Lookup answers names for container ctr from the networks under dir
// (the store's networks directory): nil when the name is none of theirs.
func Lookup(dir, ctr string) func(name string) []netip.Addr {
	return func(name string) []netip.Addr {
		nets, _ := os.ReadDir(dir)
		var out []netip.Addr
		for _, d := range nets {
			if !d.IsDir() || !onUserDefined(filepath.Join(dir, d.Name())) {
				continue
			}
			epDir := filepath.Join(dir, d.Name(), "endpoints")
			if _, err := os.Stat(filepath.Join(epDir, ctr+".json")); err != nil {
				continue
			}
			eps := endpoints(epDir)
			want := name
			// A link's alias is the querier's own name for its target.
			if i := slices.IndexFunc(eps, func(ep endpoint) bool { return ep.Container == ctr }); i >= 0 {
				for _, l := range eps[i].Links {
					if target, alias, _ := strings.Cut(l, ":"); strings.EqualFold(alias, name) {
						want = target
					}
				}
			}
			for _, ep := range eps {
				if strings.EqualFold(ep.Name, want) || slices.ContainsFunc(ep.Aliases, func(a string) bool { return strings.EqualFold(a, want) }) ||
					(len(want) == 12 && strings.HasPrefix(ep.Container, want)) {
					out = append(out, ep.Addr.Addr())
					if ep.Addr6.IsValid() {
						out = append(out, ep.Addr6.Addr())
					}
				}
			}
		}
		return out
	}
}

func onUserDefined(netDir string) bool {
	b, err := os.ReadFile(filepath.Join(netDir, "network.json"))
	var n network
	return err == nil && json.Unmarshal(b, &n) == nil && n.Name != DefaultNetwork
}

// endpoints reads a network's endpoint records; one being written or
// damaged is skipped (it answers for nobody until it is whole).
func endpoints(dir string) []endpoint {
	ents, _ := os.ReadDir(dir)
	var out []endpoint
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		var ep endpoint
		if err == nil && json.Unmarshal(b, &ep) == nil {
			out = append(out, ep)
		}
	}
	return out
}
