package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
)

// criCommand is `berth cri`: the Kubernetes CRI server, which is the
// berth-cri binary beside this one (gRPC stays out of berth's starts).
func criCommand(g *globals) *cobra.Command {
	var listen, cniConf, cniBin string
	c := &cobra.Command{
		Use:   "cri [OPTIONS]",
		Short: "Serve the Kubernetes Container Runtime Interface (kubelet, crictl) on a socket",
		Long: "Serve the Kubernetes CRI on a unix socket: pods and their containers run on the engine, with images in its store.\n" +
			"The socket is root-equivalent. Containers belong to their monitors: stopping the server stops none of them.",
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			bin := filepath.Join(filepath.Dir(self), "berth-cri")
			if _, err := os.Stat(bin); err != nil {
				return fmt.Errorf("berth cri needs berth-cri beside berth: %w", err)
			}
			args := []string{bin, "-root", g.root, "-runroot", g.runRoot, "-berth", self}
			for host, m := range g.mirrors {
				args = append(args, "-registry-mirror", host+"="+m)
			}
			for _, d := range g.cdiDirs {
				args = append(args, "-cdi-spec-dir", d)
			}
			if listen != "" {
				args = append(args, "-listen", listen)
			}
			if cniConf != "" {
				args = append(args, "-cni-conf-dir", cniConf)
			}
			if cniBin != "" {
				args = append(args, "-cni-bin-dir", cniBin)
			}
			return syscall.Exec(bin, args, os.Environ())
		},
	}
	c.Flags().StringVar(&listen, "listen", "", "the unix socket (default RUNROOT/cri.sock)")
	c.Flags().StringVar(&cniConf, "cni-conf-dir", "", "put pods on the first CNI network configured here (a kubelet node's /etc/cni/net.d); without it, berth's bridge")
	c.Flags().StringVar(&cniBin, "cni-bin-dir", "", "where the CNI plugins are, colon-separated (default /opt/cni/bin:/usr/lib/cni)")
	return c
}
