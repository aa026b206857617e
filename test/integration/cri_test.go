package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// criServer runs `berth cri` over root and returns crictl, configured
// for its socket, and the server's stop (it stops when the test ends
// in any case).
func criServer(t *testing.T, root string, flags ...string) (crictl func(args ...string) result, stop func()) {
	t.Helper()
	sock := filepath.Join(root, "cri.sock")
	args := append([]string{"--root", root, "--runroot", filepath.Join(root, "run"), "cri", "--listen", sock}, flags...)
	stop = startServer(t, "berth cri", exec.Command(*berthBin, args...), sock)
	cfg := filepath.Join(root, "crictl.yaml")
	if err := os.WriteFile(cfg, []byte("runtime-endpoint: unix://"+sock+"\nimage-endpoint: unix://"+sock+"\ntimeout: 60\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return func(args ...string) result {
		t.Helper()
		return runIn(t, root, nil, exec.Command(*crictlBin, append([]string{"--config", cfg}, args...)...))
	}, stop
}

func mustCrictl(t *testing.T, crictl func(...string) result, args ...string) string {
	t.Helper()
	r := crictl(args...)
	if r.code != 0 {
		t.Fatalf("crictl %v: exit %d: %s%s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// writeJSON writes v as a file of root's and returns its path.
func writeJSON(t *testing.T, root, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCRIPodLifecycleWithCrictl: crictl drives berth cri through a
// pod's life. An image pulled from a loopback registry; a pod with a
// hostname, DNS, labels and a published port; its containers share its
// network (and PID) namespace, see its hosts and resolv.conf, log in
// the CRI format, exec synchronously; their statuses say Completed or
// Error with the exit code; the pod outlives a restart of the server;
// removing it leaves nothing.
func TestCRIPodLifecycleWithCrictl(t *testing.T) {
	root := engineWithBusybox(t)
	crictl, stop := criServer(t, root)
	if out := mustCrictl(t, crictl, "version"); !strings.Contains(out, "RuntimeName:  berth") || !strings.Contains(out, "RuntimeApiVersion:  v1") {
		t.Fatalf("crictl version: %q", out)
	}
	reg := startRegistry(t, nil)
	img := reg + "/busybox:cri"
	mustEngine(t, root, "tag", "busybox:it", img)
	mustEngine(t, root, "push", img)
	mustEngine(t, root, "rmi", img)
	if out := mustCrictl(t, crictl, "pull", img); !strings.Contains(out, "Image is up to date for sha256:") {
		t.Fatalf("crictl pull: %q", out)
	}
	if out := mustCrictl(t, crictl, "images", img); !strings.Contains(out, reg+"/busybox") || !strings.Contains(out, "cri") {
		t.Fatalf("crictl images: %q", out)
	}
	port := freePort(t)
	logDir := filepath.Join(root, "pod-logs")
	pod := writeJSON(t, root, "pod.json", map[string]any{
		"metadata": map[string]any{"name": "web", "namespace": "default", "uid": "uid-web", "attempt": 1},
		"hostname": "webpod", "log_directory": logDir,
		"dns_config":    map[string]any{"servers": []string{"10.9.9.9"}, "searches": []string{"svc.local"}},
		"port_mappings": []any{map[string]any{"container_port": 80, "host_port": port}},
		"labels":        map[string]string{"app": "web"}, "annotations": map[string]string{"note": "kept"}, "linux": map[string]any{},
	})
	podID := strings.TrimSpace(mustCrictl(t, crictl, "runp", pod))
	if out := mustCrictl(t, crictl, "pods", "--label", "app=web", "-q"); strings.TrimSpace(out) != podID {
		t.Fatalf("crictl pods --label: %q, want %s", out, podID)
	}
	server := writeJSON(t, root, "server.json", map[string]any{
		"metadata": map[string]any{"name": "httpd"}, "image": map[string]any{"image": img}, "log_path": "httpd.log",
		"command": []string{"sh", "-c", "echo started; echo to-stderr >&2; mkdir -p /www; echo hello-from-pod > /www/index.html; exec httpd -f -p 80 -h /www"},
		"labels":  map[string]string{"tier": "front"}, "linux": map[string]any{},
	})
	ctr := strings.TrimSpace(mustCrictl(t, crictl, "create", podID, server, pod))
	mustCrictl(t, crictl, "start", ctr)
	body := getWhenUp(t, port)
	if body != "hello-from-pod\n" {
		t.Fatalf("the pod's published port: %q", body)
	}
	if out := mustCrictl(t, crictl, "exec", "-s", ctr, "sh", "-c", "hostname; cat /etc/resolv.conf; grep webpod /etc/hosts"); !regexp.MustCompile(`^webpod\nnameserver 10\.9\.9\.9\nsearch svc\.local\n\d+\.\d+\.\d+\.\d+\twebpod\s*$`).MatchString(out) {
		t.Fatalf("the pod's hostname, DNS and hosts: %q", out)
	}
	if r := crictl("exec", "-s", ctr, "sh", "-c", "echo out; exit 3"); r.code == 0 || !strings.Contains(r.stderr, "exited with 3") {
		t.Fatalf("exec -s of a failing command: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// The CRI log: crictl logs reads the file, in the kubelet's format.
	waitFor(t, func() bool { return strings.Contains(crictl("logs", ctr).stdout, "started") })
	logFile, err := os.ReadFile(filepath.Join(logDir, "httpd.log"))
	if err != nil || !regexp.MustCompile(`(?m)^\S+Z stdout F started\n`).Match(logFile) || !regexp.MustCompile(`(?m)^\S+Z stderr F to-stderr$`).Match(logFile) {
		t.Fatalf("the CRI log: %q %v", logFile, err)
	}
	// Streaming exec, port forwarding and stats.
	if r := crictl("exec", ctr, "sh", "-c", "echo streamed; exit 4"); r.code == 0 || r.stdout != "streamed\n" || !strings.Contains(r.stderr, "exit code 4") {
		t.Fatalf("crictl exec: %d %q %q", r.code, r.stdout, r.stderr)
	}
	local := freePort(t)
	pf := exec.Command(*crictlBin, "--config", filepath.Join(root, "crictl.yaml"), "port-forward", podID, strconv.Itoa(local)+":80")
	var pfOut bytes.Buffer
	pf.Stdout, pf.Stderr = &pfOut, &pfOut
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	if got := getWhenUp(t, local); got != "hello-from-pod\n" {
		t.Fatalf("crictl port-forward: %q (%s)", got, pfOut.String())
	}
	_ = pf.Process.Kill() // ours, by PID
	_ = pf.Wait()         // killed: its status says so
	var stats struct {
		Stats []struct {
			CPU struct {
				UsageCoreNanoSeconds struct{ Value string } `json:"usageCoreNanoSeconds"`
			} `json:"cpu"`
			Memory struct {
				WorkingSetBytes struct{ Value string } `json:"workingSetBytes"`
			} `json:"memory"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(mustCrictl(t, crictl, "stats", "-o", "json", ctr)), &stats); err != nil || len(stats.Stats) != 1 ||
		stats.Stats[0].CPU.UsageCoreNanoSeconds.Value == "" || stats.Stats[0].Memory.WorkingSetBytes.Value == "" || stats.Stats[0].Memory.WorkingSetBytes.Value == "0" {
		t.Fatalf("crictl stats: %+v %v", stats, err)
	}
	if out := mustCrictl(t, crictl, "statsp", "-o", "json", podID); !strings.Contains(out, ctr) {
		t.Fatalf("crictl statsp: %s", out)
	}
	mustCrictl(t, crictl, "update", "--memory", "67108864", ctr)
	if got := mustEngine(t, root, "inspect", "-f", "{{.HostConfig.Memory}}", ctr); got != "67108864\n" {
		t.Fatalf("crictl update --memory: %q", got)
	}
	// A second container of the pod: its network and PID namespace.
	peer := writeJSON(t, root, "peer.json", map[string]any{
		"metadata": map[string]any{"name": "peer"}, "image": map[string]any{"image": img},
		"command": []string{"sh", "-c", "wget -qO- http://127.0.0.1:80/; ps -o args | grep -c '^httpd'; exit 3"}, "linux": map[string]any{},
	})
	peerID := strings.TrimSpace(mustCrictl(t, crictl, "create", podID, peer, pod))
	mustCrictl(t, crictl, "start", peerID)
	waitFor(t, func() bool { return strings.Contains(mustCrictl(t, crictl, "inspect", peerID), `"CONTAINER_EXITED"`) })
	var st struct {
		Status struct {
			State    string `json:"state"`
			ExitCode int    `json:"exitCode"`
			Reason   string `json:"reason"`
			LogPath  string `json:"logPath"`
			Labels   map[string]string
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(mustCrictl(t, crictl, "inspect", peerID)), &st); err != nil || st.Status.ExitCode != 3 || st.Status.Reason != "Error" {
		t.Fatalf("a container that exited 3: %+v %v", st, err)
	}
	if out := mustEngine(t, root, "logs", peerID); out != "hello-from-pod\n1\n" {
		t.Fatalf("the peer saw: %q", out)
	}
	// The pod outlives a restart of the server.
	stop()
	crictl, _ = criServer(t, root)
	if out := mustCrictl(t, crictl, "ps", "-q", "--state", "running"); strings.TrimSpace(out) != ctr {
		t.Fatalf("after a restart of berth cri: %q, want %s", out, ctr)
	}
	if getWhenUp(t, port) != "hello-from-pod\n" {
		t.Fatal("the pod's port after a restart")
	}
	mustCrictl(t, crictl, "stop", ctr)
	if err := json.Unmarshal([]byte(mustCrictl(t, crictl, "inspect", ctr)), &st); err != nil || st.Status.State != "CONTAINER_EXITED" || st.Status.LogPath != filepath.Join(logDir, "httpd.log") || st.Status.Labels["tier"] != "front" {
		t.Fatalf("a stopped container: %+v %v", st, err)
	}
	// Bad input: refused, nothing made.
	if r := crictl("runp", writeJSON(t, root, "bad.json", map[string]any{"metadata": map[string]any{"name": "x"}})); r.code == 0 {
		t.Fatal("a pod without a namespace and uid was made")
	}
	if r := crictl("create", "nosuchpod", server, pod); r.code == 0 {
		t.Fatal("a container in a pod that is not there was made")
	}
	mustCrictl(t, crictl, "rm", peerID)
	mustCrictl(t, crictl, "stopp", podID)
	mustCrictl(t, crictl, "rmp", podID)
	mustCrictl(t, crictl, "rmi", img)
	if out := mustCrictl(t, crictl, "pods", "-q") + mustCrictl(t, crictl, "ps", "-aq") + mustEngine(t, root, "ps", "-aq"); out != "" {
		t.Fatalf("left after rmp: %q", out)
	}
	if resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("the pod's port still answers: %q", b)
	}
}

// TestCRIPodOnCNIPlugins: with a CNI configuration (as a kubelet's
// node has one), berth cri puts pods on the network the plugins make:
// the bridge plugin's interface and host-local's address are the pod's,
// PodSandboxStatus reports that address, the pod answers on it and on
// its host port (the portmap plugin), and stopping the pod gives the
// address back.
func TestCRIPodOnCNIPlugins(t *testing.T) {
	root := engineWithBusybox(t)
	const bridge = "berthcni0"                                                // berth's prefix: the leak check sees it
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", bridge).Run() }) // the bridge plugin leaves its bridge, by design
	portmapTable := func() bool { return exec.Command("nft", "list", "table", "ip", "cni_hostport").Run() == nil }
	if !portmapTable() {
		t.Cleanup(func() { _ = exec.Command("nft", "delete", "table", "ip", "cni_hostport").Run() }) // portmap leaves its empty table
	}
	confDir, ipamDir := filepath.Join(root, "net.d"), filepath.Join(root, "ipam")
	if err := os.Mkdir(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, confDir, "10-pods.conflist", map[string]any{"cniVersion": "1.0.0", "name": "pods", "plugins": []any{
		map[string]any{"type": "bridge", "bridge": bridge, "isGateway": true, "ipMasq": false, "ipam": map[string]any{
			"type": "host-local", "dataDir": ipamDir, "ranges": [][]map[string]string{{{"subnet": "10.233.7.0/24"}}}}},
		map[string]any{"type": "portmap", "backend": "nftables", "capabilities": map[string]bool{"portMappings": true}},
	}})
	crictl, _ := criServer(t, root, "--cni-conf-dir", confDir, "--cni-bin-dir", *cniPlugins)
	port := freePort(t)
	pod := writeJSON(t, root, "pod.json", map[string]any{
		"metadata": map[string]any{"name": "cnipod", "namespace": "default", "uid": "uid-cni"}, "hostname": "cnipod",
		"dns_config":    map[string]any{"servers": []string{"10.96.0.10"}},
		"port_mappings": []any{map[string]any{"container_port": 80, "host_port": port}}, "linux": map[string]any{},
	})
	podID := strings.TrimSpace(mustCrictl(t, crictl, "runp", pod))
	var ps struct {
		Status struct {
			Network struct{ IP string } `json:"network"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(mustCrictl(t, crictl, "inspectp", podID)), &ps); err != nil || !strings.HasPrefix(ps.Status.Network.IP, "10.233.7.") {
		t.Fatalf("the pod's IP from the CNI plugins: %+v %v", ps, err)
	}
	ip := ps.Status.Network.IP
	if _, err := os.Stat(filepath.Join(ipamDir, "pods", ip)); err != nil {
		t.Fatalf("host-local holds no lease for %s: %v", ip, err)
	}
	ctr := strings.TrimSpace(mustCrictl(t, crictl, "create", podID, writeJSON(t, root, "web.json", map[string]any{
		"metadata": map[string]any{"name": "web"}, "image": map[string]any{"image": "busybox:it"}, "linux": map[string]any{},
		"command": []string{"sh", "-c", "mkdir -p /www; echo on-cni > /www/index.html; exec httpd -f -p 80 -h /www"},
	}), pod))
	mustCrictl(t, crictl, "start", ctr)
	if out := mustCrictl(t, crictl, "exec", "-s", ctr, "sh", "-c", "ip -4 -o addr show eth0; cat /etc/resolv.conf"); !strings.Contains(out, "inet "+ip+"/24") || !strings.Contains(out, "nameserver 10.96.0.10") {
		t.Fatalf("the pod's eth0 and DNS: %q", out)
	}
	if got := getURLWhenUp(t, "http://"+ip+":80/"); got != "on-cni\n" {
		t.Fatalf("the pod on its CNI address: %q", got)
	}
	if got := getURLWhenUp(t, "http://10.233.7.1:"+strconv.Itoa(port)+"/"); got != "on-cni\n" {
		t.Fatalf("the pod on its host port (portmap): %q", got)
	}
	mustCrictl(t, crictl, "stopp", podID)
	if _, err := os.Stat(filepath.Join(ipamDir, "pods", ip)); err == nil {
		t.Fatalf("the pod stopped, and host-local still holds %s", ip)
	}
	mustCrictl(t, crictl, "rmp", podID)
	if out := mustEngine(t, root, "ps", "-aq"); out != "" {
		t.Fatalf("left after rmp: %q", out)
	}
	if out, _ := exec.Command("ip", "-o", "link", "show", "master", bridge).CombinedOutput(); len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("a veth is left on the CNI bridge: %s", out)
	}
}

// TestCRIPodInAUserNamespace: a pod with the kubelet's user namespace
// (mode POD and its host range) runs as that range: its containers are
// root inside and the range's first ID outside, they share the
// sandbox's user namespace (so a container's root may bind port 80 in
// the pod's network namespace, which that one owns), the image's files
// are root's through the idmapped rootfs, and a map berth cannot make
// is refused with nothing made.
func TestCRIPodInAUserNamespace(t *testing.T) {
	root := engineWithBusybox(t)
	crictl, _ := criServer(t, root)
	// What the kubelet reads before it sends a pod with hostUsers false.
	if out := mustCrictl(t, crictl, "info"); !regexp.MustCompile(`\{\s*"features":\s*\{\s*"user_namespaces":\s*true\s*\},\s*"name":\s*"berth"`).MatchString(out) {
		t.Fatalf("crictl info: no berth handler with user namespaces:\n%s", out)
	}
	const host = 3 << 20
	userns := func(containerID int) map[string]any {
		m := []any{map[string]any{"container_id": containerID, "host_id": host, "length": 65536}}
		return map[string]any{"security_context": map[string]any{"namespace_options": map[string]any{"userns_options": map[string]any{"uids": m, "gids": m}}}}
	}
	pod := writeJSON(t, root, "pod.json", map[string]any{
		"metadata": map[string]any{"name": "mapped", "namespace": "default", "uid": "uid-mapped"}, "linux": userns(0),
	})
	podID := strings.TrimSpace(mustCrictl(t, crictl, "runp", pod))
	ctr := strings.TrimSpace(mustCrictl(t, crictl, "create", podID, writeJSON(t, root, "web.json", map[string]any{
		"metadata": map[string]any{"name": "web"}, "image": map[string]any{"image": "busybox:it"}, "linux": userns(0),
		"command": []string{"sh", "-c", "mkdir -p /tmp/www; echo mapped > /tmp/www/index.html; exec httpd -f -p 80 -h /tmp/www"},
	}), pod))
	mustCrictl(t, crictl, "start", ctr)
	out := mustCrictl(t, crictl, "exec", "-s", ctr, "sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /bin/busybox")
	if !regexp.MustCompile(`^0\n\s*0\s+3145728\s+65536\n\s*0\s+3145728\s+65536\n0:0\s*$`).MatchString(out) {
		t.Fatalf("inside the pod's user namespace: %q", out)
	}
	var body string
	waitFor(t, func() bool {
		r := crictl("exec", "-s", ctr, "wget", "-qO-", "http://127.0.0.1:80/")
		body = r.stdout
		return r.code == 0
	})
	if strings.TrimSpace(body) != "mapped" {
		t.Fatalf("httpd on port 80 in the pod: %q", body)
	}
	pid := func(id string) string {
		return strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.Pid}}", id))
	}
	ctrNS, err1 := os.Readlink("/proc/" + pid(ctr) + "/ns/user")
	podNS, err2 := os.Readlink("/proc/" + pid(podID) + "/ns/user")
	self, _ := os.Readlink("/proc/self/ns/user")
	if err1 != nil || err2 != nil || ctrNS != podNS || ctrNS == self {
		t.Fatalf("the container's user namespace %s (%v), the pod's %s (%v), the host's %s", ctrNS, err1, podNS, err2, self)
	}
	status, err := os.ReadFile("/proc/" + pid(ctr) + "/status")
	if err != nil || !regexp.MustCompile(`(?m)^Uid:\s+3145728\s`).Match(status) {
		t.Fatalf("the container's host uid: %v\n%s", err, status)
	}
	// One the kubelet could send but berth cannot make: refused.
	if r := crictl("runp", writeJSON(t, root, "bad.json", map[string]any{
		"metadata": map[string]any{"name": "bad", "namespace": "default", "uid": "uid-bad"}, "linux": userns(1),
	})); r.code == 0 || !strings.Contains(r.stderr, "from container ID 0") {
		t.Fatalf("a map from container ID 1: %d %s", r.code, r.stderr)
	}
	mustCrictl(t, crictl, "stopp", podID)
	mustCrictl(t, crictl, "rmp", podID)
	if out := mustEngine(t, root, "ps", "-aq"); out != "" {
		t.Fatalf("left after rmp: %q", out)
	}
}

// TestCRIEventsAndLogReopen: GetContainerEvents streams a container's
// created, started, stopped and deleted events with its status, and
// ReopenContainerLog (the kubelet's log rotation: rename, then reopen)
// has the output go on in a new file at the path. The calls go over
// gRPC as the kubelet makes them.
func TestCRIEventsAndLogReopen(t *testing.T) {
	root := engineWithBusybox(t)
	crictl, _ := criServer(t, root)
	conn, err := grpc.NewClient("unix://"+filepath.Join(root, "cri.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	events, err := rt.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	logDir := filepath.Join(root, "logs")
	podCfg := &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "ev", Namespace: "default", Uid: "uid-ev"}, LogDirectory: logDir}
	pod, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg})
	if err != nil {
		t.Fatal(err)
	}
	c, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod.PodSandboxId, SandboxConfig: podCfg, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "ticker"}, Image: &runtimeapi.ImageSpec{Image: "busybox:it"}, LogPath: "ticker.log",
		Command: []string{"sh", "-c", "i=0; while :; do echo tick$i; i=$((i+1)); sleep 0.1; done"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(logDir, "ticker.log")
	waitFor(t, func() bool { b, _ := os.ReadFile(logFile); return bytes.Contains(b, []byte("tick2")) })
	// The reopen reaches the monitor in its idle stage too, which takes
	// over a container that runs for more than a moment.
	waitFor(t, func() bool { return idleMonitorOf(c.ContainerId) })
	if err := os.Rename(logFile, logFile+".1"); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: c.ContainerId}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { b, _ := os.ReadFile(logFile); return bytes.Contains(b, []byte(" stdout F tick")) })
	mustCrictl(t, crictl, "stop", c.ContainerId)
	mustCrictl(t, crictl, "rm", c.ContainerId)
	want := []runtimeapi.ContainerEventType{runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT}
	for _, w := range want {
		ev, err := events.Recv()
		if err != nil {
			t.Fatalf("events, waiting for %s: %v", w, err)
		}
		if ev.ContainerId != c.ContainerId || ev.ContainerEventType != w || ev.CreatedAt == 0 {
			t.Fatalf("event %+v, want %s of %s", ev, w, c.ContainerId)
		}
		if w == runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT && (len(ev.ContainersStatuses) != 1 || ev.PodSandboxStatus.GetId() != pod.PodSandboxId) {
			t.Fatalf("a started event's statuses: %+v", ev)
		}
	}
	if _, err := rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: "nosuch"}); status.Code(err) != codes.NotFound {
		t.Fatalf("reopen of no container: %v", err)
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod.PodSandboxId}); err != nil {
		t.Fatal(err)
	}
}

// idleMonitorOf says whether container id's monitor is in its idle
// stage (berth-monitor).
func idleMonitorOf(id string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(b, []byte("berth:[monitor] "+id)) {
			continue
		}
		exe, _ := os.Readlink(filepath.Join(filepath.Dir(p), "exe")) // the stage's program: berth, then berth-monitor
		return filepath.Base(exe) == "berth-monitor"
	}
	return false
}
