package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	mobynetwork "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/container"
)

// The pre-defined networks host and none, as Docker lists them beside
// bridge: not networks of the network manager (a container in either
// mode has no endpoint to make), but names network ls, inspect and rm
// know, with the containers in that mode.
var predefined = []struct{ name, driver string }{{"host", "host"}, {"none", "null"}}

// predefinedID is a pre-defined network's ID: the same on every host
// and start, as a user's scripts may hold it.
func predefinedID(name string) string {
	sum := sha256.Sum256([]byte("berth-predefined-network:" + name))
	return hex.EncodeToString(sum[:])
}

// findPredefined is the pre-defined network ref names, by name or ID
// prefix; "" if none.
func findPredefined(ref string) (name, driver string) {
	for _, p := range predefined {
		if ref == p.name || len(ref) >= 3 && strings.HasPrefix(predefinedID(p.name), ref) {
			return p.name, p.driver
		}
	}
	return "", ""
}

// predefinedInspect describes a pre-defined network and the running
// containers in its mode.
func (e *Engine) predefinedInspect(name, driver string) (mobynetwork.Inspect, error) {
	in := mobynetwork.Inspect{
		Network: mobynetwork.Network{Name: name, ID: predefinedID(name), Created: time.Unix(0, 0).UTC(), Scope: "local", Driver: driver,
			IPAM: mobynetwork.IPAM{Driver: "default", Config: []mobynetwork.IPAMConfig{}}, Options: map[string]string{}, Labels: map[string]string{}},
		Containers: map[string]mobynetwork.EndpointResource{},
	}
	cs, err := e.containers.List()
	if err != nil {
		return in, err
	}
	for _, c := range cs {
		if c.Host.NetworkMode == name && c.State.Status == container.Running {
			in.Containers[c.ID] = mobynetwork.EndpointResource{Name: c.Name}
		}
	}
	return in, nil
}

// refusePredefined is the error for changing a pre-defined network.
func refusePredefined(name string) error {
	return conflict(fmt.Errorf("%s is a pre-defined network and cannot be removed", name))
}
