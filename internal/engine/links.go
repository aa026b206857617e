package engine

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/network"
)

// Legacy links, kept as TARGET:ALIAS. On the default bridge (--link,
// HostConfig.Links) the target's address names it, by alias and by
// name, in the container's /etc/hosts at each start, and its ports and
// environment reach the container as Docker's ALIAS_… variables; a
// target that is not running is left out. On a user-defined network (an
// endpoint's Links) the container's name server answers the alias with
// the target's address whenever the target runs.

// parseLinks reads links as clients write them: "name:alias", "name"
// (the alias is the name) or inspect's "/name:/container/alias".
func parseLinks(in []string) ([]string, error) {
	var out []string
	for _, l := range in {
		target, alias, ok := strings.Cut(l, ":")
		target = strings.TrimPrefix(target, "/")
		if !ok {
			alias = target
		}
		alias = path.Base("/" + alias)
		if target == "" || alias == "/" || alias == "." {
			return nil, invalid(fmt.Errorf("invalid link %q: want NAME:ALIAS", l))
		}
		out = append(out, target+":"+alias)
	}
	return out, nil
}

// checkLinks resolves each link's target, as create does: a missing one
// is refused, and the record keeps the target's name.
func (e *Engine) checkLinks(links []string) ([]string, error) {
	out := make([]string, 0, len(links))
	for _, l := range links {
		target, alias, _ := strings.Cut(l, ":")
		t, err := e.get(target)
		if err != nil {
			return nil, invalid(fmt.Errorf("could not get container for %s: %w", target, err))
		}
		out = append(out, t.Name+":"+alias)
	}
	return out, nil
}

// links are a start's default-bridge link entries: /etc/hosts lines
// (NAME:IP, as --add-host) and variables.
func (e *Engine) links(c *container.Container) (hosts, env []string) {
	if c.Host.NetworkMode != network.DefaultName {
		return nil, nil
	}
	for _, l := range c.Host.Links {
		target, alias, _ := strings.Cut(l, ":")
		t, err := e.containers.Find(target)
		if err != nil || t.State.Status != container.Running {
			continue
		}
		eps := e.networks.EndpointsOf(t.ID)
		i := slices.IndexFunc(eps, func(ep network.Endpoint) bool { return ep.Network == network.DefaultName })
		if i < 0 {
			continue
		}
		ip := eps[i].Addr.Addr()
		hosts = append(hosts, alias+":"+ip.String())
		if alias != t.Name {
			hosts = append(hosts, t.Name+":"+ip.String())
		}
		env = append(env, linkVariables(c.Name, t, alias, ip)...)
	}
	// A user-defined network's links its name server answers, whenever
	// their targets run (network.Manager.Lookup).
	return hosts, env
}

// linkVariables are Docker's variables for a link of container name to
// t by alias at ip: ALIAS_NAME, ALIAS_PORT and ALIAS_PORT_<port>_<proto>
// with its _ADDR, _PORT and _PROTO, and ALIAS_ENV_ for t's environment.
func linkVariables(name string, t *container.Container, alias string, ip netip.Addr) []string {
	prefix := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, alias)
	out := []string{prefix + "_NAME=/" + name + "/" + alias}
	type port struct {
		n     int
		proto string
	}
	var ports []port
	for p := range t.Config.ExposedPorts {
		num, proto, _ := strings.Cut(p, "/")
		n, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		ports = append(ports, port{n, cmp.Or(proto, "tcp")})
	}
	sort.Slice(ports, func(i, j int) bool {
		return ports[i].n < ports[j].n || ports[i].n == ports[j].n && ports[i].proto < ports[j].proto
	})
	for i, p := range ports {
		url := fmt.Sprintf("%s://%s", p.proto, netip.AddrPortFrom(ip, uint16(p.n)))
		if i == 0 {
			out = append(out, prefix+"_PORT="+url)
		}
		k := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.n, strings.ToUpper(p.proto))
		out = append(out, k+"="+url, k+"_ADDR="+ip.String(), k+"_PORT="+strconv.Itoa(p.n), k+"_PROTO="+p.proto)
	}
	for _, kv := range t.Config.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "HOME" || k == "PATH" {
			continue // what an image's build sets, of no use to the linker
		}
		out = append(out, prefix+"_ENV_"+k+"="+v)
	}
	return out
}

// ContainerRemoveLink takes a legacy link off a container: ref is
// CONTAINER/ALIAS (DELETE /containers/{name}?link=1).
func (e *Engine) ContainerRemoveLink(ref string) error {
	name, alias, ok := strings.Cut(strings.TrimPrefix(ref, "/"), "/")
	if !ok || alias == "" {
		return invalid(errors.New("conflict: cannot remove the default link name of the container"))
	}
	c, err := e.get(name)
	if err != nil {
		return err
	}
	found := false
	_, err = e.containers.Update(c.ID, func(cur *container.Container) error {
		cur.Host.Links = slices.DeleteFunc(cur.Host.Links, func(l string) bool {
			_, a, _ := strings.Cut(l, ":")
			found = found || a == alias
			return a == alias
		})
		return nil
	})
	if err != nil {
		return err
	}
	if !found {
		return withKind(ErrNotFound, fmt.Errorf("could not find link %s on container %s", alias, c.Name))
	}
	return nil
}
