package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/network"
)

type networkRow struct {
	ID, Name, Driver, Scope, Subnet string
}

func networkCommand(g *globals) *cobra.Command {
	nc := &cobra.Command{Use: "network", Short: "Manage networks"}
	var o network.CreateOptions
	var labels []string
	create := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			o.Name = args[0]
			o.Labels = map[string]string{}
			for _, kv := range labels {
				k, v, _ := strings.Cut(kv, "=")
				o.Labels[k] = v
			}
			n, err := e.Networks.Create(o)
			if err != nil {
				return err
			}
			fmt.Println(n.ID)
			return nil
		},
	}
	cf := create.Flags()
	cf.StringVar(&o.Subnet, "subnet", "", "subnet in CIDR form")
	cf.StringVar(&o.Gateway, "gateway", "", "gateway address (default: the subnet's first)")
	cf.StringVar(&o.IPRange, "ip-range", "", "allocate container addresses from this sub-range")
	cf.BoolVar(&o.Internal, "internal", false, "no traffic leaves the network")
	cf.StringArrayVar(&labels, "label", nil, "set metadata")
	cf.StringP("driver", "d", "bridge", "driver (bridge only)")

	var quiet bool
	var tmpl string
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
			nets, err := e.Networks.List()
			if err != nil {
				return err
			}
			def := "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
			if quiet {
				def = "{{.ID}}"
			}
			rows := make([]any, len(nets))
			for i, n := range nets {
				rows[i] = networkRow{ID: n.ID[:12], Name: n.Name, Driver: n.Driver, Scope: "local", Subnet: n.Subnet.String()}
			}
			return printRows(tmpl, def, map[string]string{"ID": "NETWORK ID"}, rows)
		},
	}
	ls.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display network IDs")
	ls.Flags().StringVar(&tmpl, "format", "", "Go template, or 'table TEMPLATE'")

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
				n, err := e.Networks.Get(a)
				if err != nil {
					return err
				}
				out = append(out, inspectNetwork(e, n))
			}
			return printObjects(itmpl, out)
		},
	}
	inspect.Flags().StringVarP(&itmpl, "format", "f", "", "Go template")

	rm := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove networks",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			return eachName(args, e.Networks.Remove)
		},
	}
	var yes bool
	prune := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove networks no container is on",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			names, err := e.Networks.Prune()
			fmt.Println("Deleted Networks:")
			for _, n := range names {
				fmt.Println(n)
			}
			return err
		},
	}
	prune.Flags().BoolVarP(&yes, "force", "f", false, "do not ask for confirmation")

	var ip string
	var aliases []string
	connect := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			e, c, err := g.container(args[1])
			if err != nil {
				return err
			}
			a := network.Attachment{Network: args[0], Aliases: aliases}
			if ip != "" {
				if a.IP, err = netip.ParseAddr(ip); err != nil {
					return usageError{fmt.Errorf("--ip %q: not an IP address", ip)}
				}
			}
			return e.ConnectNetwork(c, a)
		},
	}
	connect.Flags().StringVar(&ip, "ip", "", "IPv4 address")
	connect.Flags().StringArrayVar(&aliases, "alias", nil, "network-scoped alias")
	disconnect := &cobra.Command{
		Use:   "disconnect NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			e, c, err := g.container(args[1])
			if err != nil {
				return err
			}
			return e.DisconnectNetwork(c, args[0])
		},
	}
	disconnect.Flags().BoolP("force", "f", false, "force")
	nc.AddCommand(create, ls, inspect, rm, prune, connect, disconnect)
	return nc
}

func inspectNetwork(e *engine.Engine, n *network.Network) map[string]any {
	ctrs := map[string]any{}
	eps, _ := e.Networks.Endpoints(n)
	for _, ep := range eps {
		ctrs[ep.Container] = map[string]any{"Name": ep.Name, "IPv4Address": ep.Addr.String(), "MacAddress": ep.MAC, "EndpointID": ep.HostVeth}
	}
	ipam := map[string]any{"Subnet": n.Subnet.String(), "Gateway": n.Gateway.String()}
	if n.IPRange.IsValid() {
		ipam["IPRange"] = n.IPRange.String()
	}
	return map[string]any{
		"Name": n.Name, "Id": n.ID, "Created": n.Created, "Scope": "local", "Driver": n.Driver, "EnableIPv6": false,
		"IPAM": map[string]any{"Driver": "default", "Config": []any{ipam}}, "Internal": n.Internal, "Containers": ctrs,
		"Options": map[string]string{"com.docker.network.bridge.name": n.Bridge}, "Labels": n.Labels,
	}
}

func portCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings of a container",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(_ *cobra.Command, args []string) error {
			e, c, err := g.container(args[0])
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
			for _, p := range e.Ports(c) {
				if want != 0 && (int(p.ContainerPort) != want || proto != "" && proto != p.Proto) {
					continue
				}
				found = true
				host := "0.0.0.0"
				if p.HostIP.IsValid() {
					host = p.HostIP.String()
				}
				if want != 0 {
					fmt.Printf("%s:%d\n", host, p.HostPort)
				} else {
					fmt.Printf("%d/%s -> %s:%d\n", p.ContainerPort, p.Proto, host, p.HostPort)
				}
			}
			if want != 0 && !found {
				return fmt.Errorf("no public port '%s' published for %s", args[1], c.Name)
			}
			return nil
		},
	}
}
