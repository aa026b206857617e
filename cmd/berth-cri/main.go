// berth-cri is `berth cri`: the Kubernetes Container Runtime Interface
// on a unix socket, over the engine. It is a binary of its own so that
// gRPC (some 13 MB, and 1.7 ms of package init at every process start)
// stays out of berth, whose CLI and monitors start per container, and
// out of berth-runtime; berth execs it. Containers' monitors run as the
// berth binary beside it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/berth-project/berth/internal/cri"
	"github.com/berth-project/berth/internal/engine"
)

func main() {
	// The engine re-executes this binary for some of its roles (the ID
	// map's namespace holder, health probes): those never reach the
	// server.
	engine.HelperMain()
	root := flag.String("root", "/var/lib/berth", "storage root: images, containers")
	runRoot := flag.String("runroot", "/run/berth", "runtime state root")
	listen := flag.String("listen", "", "the unix socket to serve on (default RUNROOT/cri.sock)")
	berth := flag.String("berth", "", "the berth binary containers' monitors run as (default: berth beside this binary)")
	o := engine.Options{RegistryMirrors: map[string]string{}}
	flag.Func("registry-mirror", "REGISTRY=MIRROR: pulls from REGISTRY try MIRROR first (repeatable)", func(s string) error {
		host, m, ok := strings.Cut(s, "=")
		if !ok || host == "" || m == "" {
			return fmt.Errorf("want REGISTRY=MIRROR, not %q", s)
		}
		o.RegistryMirrors[host] = m
		return nil
	})
	flag.Func("cdi-spec-dir", "a directory of CDI specs, instead of /etc/cdi and /var/run/cdi (repeatable)", func(s string) error {
		o.CDISpecDirs = append(o.CDISpecDirs, s)
		return nil
	})
	cniConf := flag.String("cni-conf-dir", "", "put pods on the first CNI network configured in this directory, as a kubelet's node has it (/etc/cni/net.d); without it, on berth's bridge")
	cniBin := flag.String("cni-bin-dir", "/opt/cni/bin:/usr/lib/cni", "where CNI plugins are, a colon-separated list")
	flag.Parse()
	if err := run(*root, *runRoot, *listen, *berth, o, *cniConf, *cniBin); err != nil {
		fmt.Fprintln(os.Stderr, "berth cri:", err)
		os.Exit(1)
	}
}

func run(root, runRoot, listen, berth string, o engine.Options, cniConf, cniBin string) error {
	if berth == "" {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		berth = filepath.Join(filepath.Dir(self), "berth")
	}
	if _, err := os.Stat(berth); err != nil {
		return fmt.Errorf("the berth binary monitors run as: %w", err)
	}
	o.Binary = berth
	e, err := engine.OpenWith(root, runRoot, o)
	if err != nil {
		return err
	}
	srv := cri.New(e, engine.Version)
	if cniConf != "" {
		n, err := cri.LoadCNI(cniConf, filepath.SplitList(cniBin), filepath.Join(runRoot, "cri", "cni"))
		if err != nil {
			return err
		}
		if n == nil {
			return fmt.Errorf("--cni-conf-dir %s: no network configuration there (*.conflist, *.conf, *.json)", cniConf)
		}
		srv.UseCNI(n)
	}
	if listen == "" {
		listen = filepath.Join(runRoot, "cri.sock")
	}
	if err := os.MkdirAll(filepath.Dir(listen), 0o711); err != nil {
		return err
	}
	// A socket left by a server that was killed; a live one answers.
	if c, err := net.Dial("unix", listen); err == nil {
		_ = c.Close() // only a probe
		return fmt.Errorf("%s: another server answers there", listen)
	}
	if err := os.Remove(listen); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	l, err := net.Listen("unix", listen)
	if err != nil {
		return err
	}
	// Root's alone: the socket runs containers as root.
	if err := os.Chmod(listen, 0o600); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = l.Close() // ends Serve; containers run on under their monitors
	}()
	err = srv.Serve(l)
	if ctx.Err() != nil {
		return nil // stopped by a signal
	}
	return err
}
