package critest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCRIBenchmark runs critest's benchmarks (the pod lifecycle, and a
// container's in a pod) against berth cri and containerd 1.6 (Debian's,
// with runc), in turn for -rounds rounds of -samples each. Both put
// their pods on the same kind of CNI network (containernetworking's
// bridge and host-local, a bridge each) and pull the same images from
// one loopback registry. It prints each operation's median side by side
// with the ratio, and writes the table to bench/results/cri-latest.md.
// It measures; it asserts no timing.
func TestCRIBenchmark(t *testing.T) {
	if !*benchmark {
		t.Skip("run with -benchmark (make bench does)")
	}
	if *cniPlugins == "" {
		t.Fatal("run with -cni-plugins (make bench does)")
	}
	root, reg := prepare(t)
	berthSock := startCRI(t, root, reg, "--cni-conf-dir", cniConf(t, root, "berth", "berthbcri1", "10.234.1.0/24"), "--cni-bin-dir", *cniPlugins)
	ctrdSock, ctrdLog := startContainerd(t, reg)
	params := filepath.Join(root, "benchmark.yaml")
	if err := os.WriteFile(params, fmt.Appendf(nil, "containersNumber: %d\ncontainersNumberParallel: 1\npodsNumber: %d\npodsNumberParallel: 1\n", *samples, *samples), 0o644); err != nil {
		t.Fatal(err)
	}
	peers := []struct{ name, sock string }{{"berth cri", berthSock}, {"containerd 1.6", ctrdSock}}
	// operation -> peer -> durations
	got := map[string]map[string][]time.Duration{}
	var order []string
	for round := range *rounds {
		for _, p := range peers {
			out := filepath.Join(root, "bench-out", fmt.Sprintf("%d-%s", round, strings.Fields(p.name)[0]))
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(*critestBin, "-benchmark", "-runtime-endpoint", "unix://"+p.sock, "-image-endpoint", "unix://"+p.sock,
				"-benchmarking-params-file", params, "-benchmarking-output-dir", out, "-ginkgo.no-color")
			cmd.Dir = root
			var log bytes.Buffer
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Run(); err != nil {
				if p.sock == ctrdSock {
					t.Logf("containerd's log:\n%s", tail(ctrdLog.String(), 3000))
				}
				t.Fatalf("critest -benchmark against %s: %v\n%s", p.name, err, tail(log.String(), 4000))
			}
			for _, f := range []string{"pod_benchmark_data.json", "container_benchmark_data.json"} {
				var res struct {
					OperationsNames []string `json:"operationsNames"`
					Datapoints      []struct {
						OperationsDurationsNs []int64 `json:"operationsDurationsNs"`
					} `json:"datapoints"`
				}
				b, err := os.ReadFile(filepath.Join(out, f))
				if err == nil {
					err = json.Unmarshal(b, &res)
				}
				if err != nil || len(res.Datapoints) == 0 {
					t.Fatalf("%s of %s: %v (%d datapoints)", f, p.name, err, len(res.Datapoints))
				}
				kind := strings.TrimSuffix(f, "_benchmark_data.json")
				for _, dp := range res.Datapoints {
					for i, ns := range dp.OperationsDurationsNs {
						op := kind + ": " + res.OperationsNames[i]
						if got[op] == nil {
							got[op] = map[string][]time.Duration{}
							order = append(order, op)
						}
						got[op][p.name] = append(got[op][p.name], time.Duration(ns))
					}
				}
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "critest -benchmark (cri-tools v1.37.0), %d rounds of %d, peers in turn; medians\n\n", *rounds, *samples)
	fmt.Fprintf(&b, "| operation | %s | %s | berth/containerd |\n|---|---|---|---|\n", peers[0].name, peers[1].name)
	for _, op := range order {
		m0, m1 := median(got[op][peers[0].name]), median(got[op][peers[1].name])
		fmt.Fprintf(&b, "| %s | %s | %s | %.2f |\n", op, ms(m0), ms(m1), float64(m0)/float64(m1))
	}
	fmt.Print("\n" + b.String())
	if err := os.WriteFile("../../bench/results/cri-latest.md", []byte(b.String()), 0o644); err != nil {
		t.Log(err) // the table is printed above in any case
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// cniConf writes a CNI configuration directory for one runtime's pods:
// a bridge of its own and addresses from its own host-local range. The
// bridge goes when the test ends (the plugin leaves it, by design).
func cniConf(t *testing.T, root, who, bridge, subnet string) string {
	dir := filepath.Join(root, "net.d-"+who)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "bench-%s", "plugins": [{"type": "bridge", "bridge": %q, "isGateway": true,
 "ipMasq": false, "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": %q}]]}}, {"type": "loopback"}]}`,
		who, bridge, filepath.Join(root, "ipam-"+who), subnet)
	if err := os.WriteFile(filepath.Join(dir, "10-bench.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", bridge).Run() }) // gone already is fine
	return dir
}

// startContainerd runs a containerd of its own (root, state and socket
// in a temporary directory) with the CRI plugin: runc, cgroupfs, the
// pods on a CNI network like berth's, the loopback registry as the
// upstream registries' mirror and its pause image as the sandbox's. It
// stops, and what it left is unmounted and removed, when the test ends.
// Its sandboxes' oom_score_adj is held at its own: it asks for -998,
// which needs CAP_SYS_RESOURCE, and machines like this one withhold it
// from root (runc then fails with "can't get final child's PID").
func startContainerd(t *testing.T, reg string) (string, *bytes.Buffer) {
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Fatal("containerd is not installed (make bench installs Debian's)")
	}
	dir, err := os.MkdirTemp("", "berth-bench-containerd-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "containerd.sock")
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.9"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."registry.k8s.io"]
    endpoint = ["http://%s"]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."gcr.io"]
    endpoint = ["http://%s"]
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, *cniPlugins, cniConf(t, dir, "containerd", "berthbcri2", "10.234.2.0/24"), reg, reg)
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// The parent cgroups its pods' go in (/k8s.io), when it makes them.
	cgroupsBefore, _ := filepath.Glob("/sys/fs/cgroup/*/k8s.io")
	cmd := exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"))
	log := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // ours, by PID
		_ = cmd.Wait()                          // stopped by us
		// Its shims, had a pod been left: they are children of init now,
		// found by the state directory they were started for.
		procs, _ := os.ReadDir("/proc")
		for _, p := range procs {
			b, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
			if strings.HasPrefix(string(b), "/usr/bin/containerd-shim-runc-v2\x00") && strings.Contains(string(b), sock) {
				var pid int
				if _, err := fmt.Sscan(p.Name(), &pid); err == nil {
					_ = unix.Kill(pid, unix.SIGKILL) // a shim of the containerd this test started
				}
			}
		}
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		var mounts []string
		for _, l := range strings.Split(string(mi), "\n") {
			if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir) {
				mounts = append(mounts, f[4])
			}
		}
		slices.Reverse(mounts) // the innermost first
		for _, m := range mounts {
			_ = unix.Unmount(m, unix.MNT_DETACH) // what containerd left mounted in its own directories
		}
		_ = os.RemoveAll(dir)
		made, _ := filepath.Glob("/sys/fs/cgroup/*/k8s.io")
		for _, d := range made {
			if !slices.Contains(cgroupsBefore, d) {
				_ = os.Remove(d) // empty once its pods went; one that is not stays, and says so by being there
			}
		}
	})
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock, log
		}
		if i == 500 {
			t.Fatalf("containerd did not listen: %s", tail(log.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
