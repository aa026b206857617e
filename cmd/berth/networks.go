package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/engine"
)

type networkRow struct {
	ID, Name, Driver, Scope, Subnet, Internal, CreatedAt string
}

// labelMap reads --label KEY=VALUE flags.
func labelMap(labels []string) map[string]string {
	m := map[string]string{}
	for _, kv := range labels {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// byFamily sorts a repeatable address flag's values into the IPv4 and
// the IPv6 one, at most one each, as Docker pairs a network's subnets.
func byFamily(flag string, vals []string, v4, v6 *string) error {
	for _, v := range vals {
		dst := v4
		if strings.Contains(v, ":") {
			dst = v6
		}
		if *dst != "" {
			return fmt.Errorf("--%s: one IPv4 and one IPv6 value at most, not %s and %s", flag, *dst, v)
		}
		*dst = v
	}
	return nil
}

func networkCommand(g *globals) *cobra.Command {
	nc := &cobra.Command{Use: "network", Short: "Manage networks"}
	var o engine.NetworkCreateOptions
	var labels, opts, aux, ipamOpts, subnets, gateways, ranges []string
	ipv4 := true
	create := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			if !ipv4 {
				return errors.New("--ipv4=false: IPv6-only networks are not supported; berth networks have IPv4 (add --ipv6 for both)")
			}
			if err := byFamily("subnet", subnets, &o.Subnet, &o.Subnet6); err != nil {
				return err
			}
			if err := byFamily("gateway", gateways, &o.Gateway, &o.Gateway6); err != nil {
				return err
			}
			if err := byFamily("ip-range", ranges, &o.IPRange, &o.IPRange6); err != nil {
				return err
			}
			// Without --ipv6, an IPv6 subnet asks for it, as the docker
			// CLI leaves EnableIPv6 unset and the daemon follows the pools.
			if !cmd.Flags().Changed("ipv6") {
				o.EnableIPv6 = o.Subnet6 != "" || o.Gateway6 != "" || o.IPRange6 != ""
			}
			o.Name, o.Labels = args[0], labelMap(labels)
			o.Options, o.IPAMOptions = labelMap(opts), labelMap(ipamOpts)
			if o.AuxAddresses, err = keyValues("aux-address", aux); err != nil {
				return err
			}
			id, err := e.NetworkCreate(o)
			if err != nil {
				return err
			}
			fmt.Println(id)
			return nil
		},
	}
	cf := create.Flags()
	cf.StringArrayVar(&subnets, "subnet", nil, "subnet in CIDR form: one IPv4, and one IPv6 with --ipv6")
	cf.StringArrayVar(&gateways, "gateway", nil, "gateway address of a subnet (default: the subnet's first)")
	cf.StringArrayVar(&ranges, "ip-range", nil, "allocate container addresses from this sub-range of a subnet")
	cf.BoolVar(&o.EnableIPv6, "ipv6", false, "give the network an IPv6 subnet too (a unique local /64 without --subnet)")
	cf.BoolVar(&ipv4, "ipv4", true, "give the network IPv4 (always: IPv6-only networks are not supported)")
	cf.BoolVar(&o.Internal, "internal", false, "no traffic leaves the network")
	cf.BoolVar(&o.Attachable, "attachable", false, "kept and shown, as Docker keeps it for a local network (it means something to Swarm only)")
	cf.StringVar(&o.Scope, "scope", "", "the network's scope: local (berth has no swarm)")
	cf.StringArrayVar(&labels, "label", nil, "set metadata")
	cf.StringVarP(&o.Driver, "driver", "d", "bridge", "driver (bridge only)")
	cf.StringArrayVarP(&opts, "opt", "o", nil, "set a driver option (com.docker.network.bridge.name, com.docker.network.driver.mtu)")
	cf.StringArrayVar(&aux, "aux-address", nil, "an address (NAME=IP) that is never given to a container")
	cf.StringVar(&o.IPAMDriver, "ipam-driver", "default", "IP address management driver (default only)")
	cf.StringArrayVar(&ipamOpts, "ipam-opt", nil, "set an IPAM driver option")

	var quiet, noTrunc, forceRm bool
	var tmpl string
	var filters []string
	ls := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			f, err := engine.ParseFilters(filters)
			if err != nil {
				return err
			}
			nets, err := e.NetworkList(f)
			if err != nil {
				return err
			}
			def := "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
			if quiet {
				def = "{{.ID}}"
			}
			rows := make([]networkRow, len(nets))
			for i, n := range nets {
				id := n.ID
				if !noTrunc {
					id = id[:12]
				}
				rows[i] = networkRow{ID: id, Name: n.Name, Driver: n.Driver, Scope: n.Scope,
					Internal: strconv.FormatBool(n.Internal), CreatedAt: n.Created.String()}
				if len(n.IPAM.Config) > 0 {
					rows[i].Subnet = n.IPAM.Config[0].Subnet.String()
				}
			}
			return printRows(tmpl, def, map[string]string{"ID": "NETWORK ID"}, rows)
		},
	}
	ls.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display network IDs")
	ls.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate the IDs")
	ls.Flags().StringVar(&tmpl, "format", "", "Go template, or 'table TEMPLATE'")
	ls.Flags().StringArrayVarP(&filters, "filter", "f", nil, "filter: name=, id=, driver=, label=, scope=, type=, dangling=")

	var itmpl string
	inspect := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Show networks in detail (JSON)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			var out []any
			for _, a := range args {
				n, err := e.NetworkInspect(a)
				if err != nil {
					return err
				}
				out = append(out, n)
			}
			return printObjects(itmpl, out)
		},
	}
	inspect.Flags().StringVarP(&itmpl, "format", "f", "", "Go template")
	// Docker's --verbose adds a swarm network's services and peers; a
	// local network has none, so the output is the same.
	inspect.Flags().BoolP("verbose", "v", false, "verbose output (the same for local networks)")

	rm := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove networks",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.with(func(e *engine.Engine) error {
				return eachName(args, func(ref string) error {
					err := e.NetworkRemove(ref)
					if forceRm && errors.Is(err, engine.ErrNotFound) {
						return nil // -f: a network that is not there is no error, as Docker's
					}
					return err
				})
			})
		},
	}
	rm.Flags().BoolVarP(&forceRm, "force", "f", false, "do not error if the network does not exist")
	prune := pruneCommandOf(g, "Remove networks no container is on", "filter: until=, label=, label!=",
		func(bool) string { return "all custom networks not used by at least one container" },
		func(e *engine.Engine, f engine.Filters, _ bool) (prunedList, error) {
			rep, err := e.NetworksPrune(f)
			return prunedList{"Deleted Networks:", rep.NetworksDeleted, nil}, err
		}, false)

	var eo engine.EndpointOptions
	var driverOpts []string
	connect := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			var err error
			if eo.DriverOpts, err = keyValues("driver-opt", driverOpts); err != nil {
				return err
			}
			return g.with(func(e *engine.Engine) error { return e.NetworkConnect(args[0], args[1], eo) })
		},
	}
	connect.Flags().StringArrayVar(&driverOpts, "driver-opt", nil, "an endpoint driver option (NAME=VALUE), kept and shown in inspect")
	connect.Flags().StringVar(&eo.IP, "ip", "", "IPv4 address")
	connect.Flags().StringVar(&eo.IP6, "ip6", "", "IPv6 address, on a network with IPv6")
	connect.Flags().StringArrayVar(&eo.Links, "link", nil, "add a link to another container: NAME[:ALIAS]")
	connect.Flags().StringArrayVar(&eo.Aliases, "alias", nil, "network-scoped alias")
	connect.Flags().StringArrayVar(&eo.LinkLocalIPs, "link-local-ip", nil, "a link-local address (repeatable)")
	connect.Flags().IntVar(&eo.GwPriority, "gw-priority", 0, "of the container's networks, the one of the highest gw-priority gives the default gateway (negative too)")
	disconnect := &cobra.Command{
		Use:   "disconnect NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.with(func(e *engine.Engine) error { return e.NetworkDisconnect(args[0], args[1]) })
		},
	}
	disconnect.Flags().BoolP("force", "f", false, "force")
	nc.AddCommand(create, ls, inspect, rm, prune, connect, disconnect)
	return nc
}

func portCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings of a container",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			ports, err := e.ContainerPorts(args[0])
			if err != nil {
				return err
			}
			want, proto := 0, ""
			if len(args) == 2 {
				p, pr, _ := strings.Cut(args[1], "/")
				if want, err = strconv.Atoi(p); err != nil {
					return usageError{fmt.Errorf("invalid port %q", args[1])}
				}
				proto = pr
			}
			found := false
			for _, p := range ports {
				if want != 0 && (int(p.PrivatePort) != want || proto != "" && proto != p.Type) {
					continue
				}
				found = true
				host := "0.0.0.0"
				if p.IP.IsValid() {
					host = p.IP.String()
				}
				if want != 0 {
					fmt.Printf("%s:%d\n", host, p.PublicPort)
				} else {
					fmt.Printf("%d/%s -> %s:%d\n", p.PrivatePort, p.Type, host, p.PublicPort)
				}
			}
			if want != 0 && !found {
				return fmt.Errorf("no public port '%s' published for %s", args[1], args[0])
			}
			return nil
		},
	}
}
