package main

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/network"
)

// netSetupOp times what berth's monitor does for a container's network
// on the default bridge, on a namespace held by a sleeping process: the
// endpoint (lease, veth, address, route) and its teardown. The bridge
// and NAT rules exist already after the first iteration, as they do
// for every container but a network's first.
func (e *env) netSetupOp() (*op, string) {
	m := &network.Manager{Root: filepath.Join(e.work, "berth-netsetup"), Isolated: true}
	return &op{
		once: func(i int) (time.Duration, error) {
			holder := exec.Command("unshare", "--net", "sleep", "30")
			if err := holder.Start(); err != nil {
				return 0, err
			}
			defer func() {
				holder.Process.Signal(syscall.SIGKILL)
				holder.Wait()
			}()
			ns := "/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/net"
			waitForNamespace(ns)
			id := strconv.Itoa(1000000+i) + "0000000000000000000000000000000000000000000000000000000"
			start := time.Now()
			if _, err := m.Connect(network.Request{Container: id, Name: "bench", NsPath: ns, Networks: []network.Attachment{{Network: network.DefaultName}}}); err != nil {
				return 0, err
			}
			err := m.Disconnect(id)
			d := time.Since(start)
			m.DeleteVeths(id)
			return d, err
		},
		teardown: func() { m.Prune() },
	}, ""
}

// waitForNamespace waits until the process behind ns has unshared (its
// namespace differs from ours).
func waitForNamespace(ns string) {
	self, _ := filepath.EvalSymlinks("/proc/self/ns/net")
	for range 200 {
		if l, err := filepath.EvalSymlinks(ns); err == nil && l != self {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
