package integration

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/network"
)

// httpImage imports the static Go HTTP server as a FROM-scratch image
// (scratch/http) that exposes port 80.
func httpImage(t *testing.T, root string) {
	t.Helper()
	bin := filepath.Join(suiteDir, "httpserver")
	if _, err := os.Stat(bin); err != nil {
		cmd := exec.Command("go", "build", "-o", bin, "./testdata/httpserver")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build httpserver: %v: %s", err, out)
		}
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "http.tar"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(bin)
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Name: "httpserver", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body))})
	tw.Write(body)
	tw.Close()
	f.Close()
	mustEngine(t, root, "import", "-c", `ENTRYPOINT ["/httpserver"]`, "-c", "EXPOSE 80", f.Name(), "scratch/http")
}

// netState is what a storage root has in the kernel and on disk for
// networking: its nftables rules by tag, its leases, its veths.
func netState(t *testing.T, root string) (rules map[string]int, leases int, veths []string) {
	t.Helper()
	m := &network.Manager{Root: root, Isolated: true}
	rules, err := m.Firewall().Rules()
	if err != nil {
		t.Fatal(err)
	}
	nets, _ := m.List()
	for _, n := range nets {
		b, _ := os.ReadFile(filepath.Join(root, "networks", n.ID, "leases.json"))
		var l struct{ Owners map[string]string }
		json.Unmarshal(b, &l)
		leases += len(l.Owners)
	}
	links, _ := os.ReadDir("/sys/class/net")
	for _, l := range links {
		if strings.HasPrefix(l.Name(), "vb") {
			veths = append(veths, l.Name())
		}
	}
	return rules, leases, veths
}

func ctrRules(rules map[string]int) int {
	n := 0
	for tag, c := range rules {
		if strings.HasPrefix(tag, "ctr:") {
			n += c
		}
	}
	return n
}

func httpGet(url string) (string, error) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// keepIPv6Forwarding restores the host's IPv6 forwarding when the test
// ends: a network with IPv6 turns it on, as Docker does, and the test
// leaves the host as it found it.
func keepIPv6Forwarding(t *testing.T) {
	const p = "/proc/sys/net/ipv6/conf/all/forwarding"
	before, err := os.ReadFile(p)
	if err != nil {
		return // no IPv6 here: nothing to keep
	}
	t.Cleanup(func() { _ = os.WriteFile(p, before, 0o644) }) // as it was; a failure leaves what Docker would leave
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The default bridge: eth0 with an address, a default route, the host's
// resolvers; --network none has only lo, up; container: shares the
// other container's interfaces.
func TestNetworkModes(t *testing.T) {
	root := engineWithBusybox(t)
	r := mustEngine(t, root, "run", "--rm", "busybox:it", "sh", "-c", "ip -o -4 addr show eth0 | wc -l; ip route | grep -c default; cat /sys/class/net/eth0/operstate")
	if r != "1\n1\nup\n" {
		t.Fatalf("default bridge: %q", r)
	}
	if r := mustEngine(t, root, "run", "--rm", "--network", "none", "busybox:it", "sh", "-c", "ls /sys/class/net; ip -o link show lo | grep -c UP"); r != "lo\n1\n" {
		t.Fatalf("--network none: %q", r)
	}
	mustEngine(t, root, "run", "-d", "--name", "owner", "busybox:it", "sleep", "100")
	a := mustEngine(t, root, "exec", "owner", "ip", "-o", "-4", "addr", "show", "eth0")
	if b := mustEngine(t, root, "run", "--rm", "--network", "container:owner", "busybox:it", "ip", "-o", "-4", "addr", "show", "eth0"); a != b || a == "" {
		t.Fatalf("container: network: %q vs %q", a, b)
	}
	if r := engine(t, root, "run", "--rm", "--network", "nosuch", "busybox:it", "true"); r.code != 125 || !strings.Contains(r.stderr, "no such network") {
		t.Fatalf("unknown network: %d %q", r.code, r.stderr)
	}
}

// Two containers on a user-defined network reach each other by name and
// by alias through the network's name server; a container on another
// network neither resolves nor reaches them.
func TestNetworkUserDefinedNames(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "network", "create", "front")
	mustEngine(t, root, "network", "create", "--subnet", "10.213.0.0/24", "other")
	mustEngine(t, root, "run", "-d", "--name", "web", "--network", "front", "--network-alias", "www", "busybox:it", "sh", "-c",
		"mkdir /www && echo served-by-web > /www/index.html && exec httpd -f -p 80 -h /www")
	r := mustEngine(t, root, "run", "--rm", "--network", "front", "busybox:it", "sh", "-c",
		"cat /etc/resolv.conf; wget -qO- http://web/; wget -qO- http://www/; nslookup web | grep -c Address")
	if !strings.HasPrefix(r, "nameserver 127.0.0.11\n") || !strings.Contains(r, "served-by-web\nserved-by-web\n") {
		t.Fatalf("by name on the same network: %q", r)
	}
	ip := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.NetworkSettings.Networks.front.IPAddress}}", "web"))
	if !strings.HasPrefix(ip, "172.") && !strings.HasPrefix(ip, "192.168.") {
		t.Fatalf("web's address %q", ip)
	}
	r2 := engine(t, root, "run", "--rm", "--network", "other", "busybox:it", "sh", "-c",
		"nslookup web >/dev/null 2>&1 && echo resolved; timeout 2 wget -qO- http://"+ip+"/ >/dev/null 2>&1 && echo reached; ip -o -4 addr show eth0")
	if strings.Contains(r2.stdout, "resolved") || strings.Contains(r2.stdout, "reached") || !strings.Contains(r2.stdout, "10.213.0.") {
		t.Fatalf("from another network: %q %q", r2.stdout, r2.stderr)
	}
	// --ip, --link-local-ip, connect and disconnect.
	mustEngine(t, root, "run", "-d", "--name", "fixed", "--network", "other", "--ip", "10.213.0.77", "--link-local-ip", "169.254.8.8", "busybox:it", "sleep", "100")
	if got := mustEngine(t, root, "exec", "fixed", "sh", "-c", "ip -o -4 addr show eth0 | grep -o '10.213.0.77/24\\|169.254.8.8/16'"); got != "10.213.0.77/24\n169.254.8.8/16\n" {
		t.Fatalf("--ip and --link-local-ip: %q", got)
	}
	if got := mustEngine(t, root, "inspect", "-f", "{{.NetworkSettings.Networks.other.IPAMConfig.LinkLocalIPs}}", "fixed"); got != "[169.254.8.8]\n" {
		t.Fatalf("inspect's LinkLocalIPs: %q", got)
	}
	mustEngine(t, root, "network", "connect", "--driver-opt", "my.opt=1", "front", "fixed")
	if got := mustEngine(t, root, "exec", "fixed", "wget", "-qO-", "http://"+ip+"/"); got != "served-by-web\n" {
		t.Fatalf("after connect: %q", got)
	}
	if got := mustEngine(t, root, "inspect", "-f", "{{json .NetworkSettings.Networks.front.DriverOpts}}", "fixed"); got != `{"my.opt":"1"}`+"\n" {
		t.Fatalf("connect --driver-opt: %q", got)
	}
	if r := engine(t, root, "network", "rm", "front"); r.code == 0 || !strings.Contains(r.stderr, "active endpoints") {
		t.Fatalf("network rm in use: %d %q", r.code, r.stderr)
	}
	mustEngine(t, root, "network", "disconnect", "front", "fixed")
	if got := mustEngine(t, root, "exec", "fixed", "ls", "/sys/class/net"); got != "eth0\nlo\n" {
		t.Fatalf("after disconnect: %q", got)
	}
	mustEngine(t, root, "rm", "-f", "web", "fixed")
	mustEngine(t, root, "network", "rm", "front", "other")
	if rules, leases, veths := netState(t, root); ctrRules(rules) != 0 || leases != 0 || len(veths) != 0 {
		t.Fatalf("after rm: rules %v, leases %d, veths %v", rules, leases, veths)
	}
}

// -p publishes to the host (127.0.0.1 and every address), -p PORT picks
// a free one that `port` shows, -P publishes the image's EXPOSE, UDP
// works, and a container reaches a published port of its network
// (hairpin). Stopping removes the rules.
func TestNetworkPublishedPorts(t *testing.T) {
	root := engineWithBusybox(t)
	httpImage(t, root)
	p1, p2 := freePort(t), freePort(t)
	mustEngine(t, root, "run", "-d", "--name", "http", "-p", fmt.Sprintf("127.0.0.1:%d:80", p1), "-p", fmt.Sprintf("%d:80", p2), "-p", "80", "scratch/http")
	for _, port := range []int{p1, p2} {
		waitFor(t, func() bool {
			s, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port))
			return err == nil && s == "hello from scratch\n"
		})
	}
	ports := mustEngine(t, root, "port", "http")
	lines := strings.Split(strings.TrimSpace(ports), "\n")
	if len(lines) != 3 || !strings.Contains(ports, fmt.Sprintf("80/tcp -> 127.0.0.1:%d", p1)) {
		t.Fatalf("port: %q", ports)
	}
	random := ""
	for _, l := range lines {
		if !strings.HasSuffix(l, ":"+strconv.Itoa(p1)) && !strings.HasSuffix(l, ":"+strconv.Itoa(p2)) {
			random = l[strings.LastIndexByte(l, ':')+1:]
		}
	}
	if s, err := httpGet("http://127.0.0.1:" + random + "/"); err != nil || s != "hello from scratch\n" {
		t.Fatalf("random host port %s: %q %v", random, s, err)
	}
	if ps := mustEngine(t, root, "ps", "--format", "{{.Ports}}"); !strings.Contains(ps, fmt.Sprintf("127.0.0.1:%d->80/tcp", p1)) {
		t.Fatalf("ps ports: %q", ps)
	}
	gw := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.NetworkSettings.Gateway}}", "http"))
	if r := mustEngine(t, root, "run", "--rm", "busybox:it", "wget", "-qO-", fmt.Sprintf("http://%s:%d/", gw, p2)); r != "hello from scratch\n" {
		t.Fatalf("hairpin through the published port: %q", r)
	}
	// -P publishes EXPOSE 80.
	mustEngine(t, root, "run", "-d", "--name", "all", "-P", "scratch/http")
	hp := strings.TrimSpace(mustEngine(t, root, "port", "all", "80"))
	_, port, _ := strings.Cut(hp, ":")
	if port == "" {
		t.Fatalf("port all 80: %q", hp)
	}
	waitFor(t, func() bool {
		s, err := httpGet("http://127.0.0.1:" + port + "/")
		return err == nil && s == "hello from scratch\n"
	})
	// UDP: a datagram to the published port reaches the container.
	up := freePort(t)
	mustEngine(t, root, "run", "-d", "--name", "udp", "-p", fmt.Sprintf("127.0.0.1:%d:5000/udp", up), "--entrypoint", "/httpserver", "scratch/http", "-udp", ":5000")
	waitFor(t, func() bool {
		c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", up))
		if err == nil {
			c.Write([]byte("datagram\n"))
			c.Close()
		}
		return strings.Contains(engine(t, root, "logs", "udp").stdout, "datagram")
	})
	if rules, _, _ := netState(t, root); ctrRules(rules) != 5 {
		t.Fatalf("rules while running: %v", rules)
	}
	mustEngine(t, root, "stop", "-t", "1", "http", "all", "udp")
	if rules, leases, _ := netState(t, root); ctrRules(rules) != 0 || leases != 0 {
		t.Fatalf("after stop: rules %v, leases %d", rules, leases)
	}
	if _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", p1)); err == nil {
		t.Fatal("the port still answers after stop")
	}
}

// A port in use, an overlapping subnet, a bad alias or -p: one line,
// exit 125, and nothing half-made.
func TestNetworkBadInput(t *testing.T) {
	root := engineWithBusybox(t)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	r := engine(t, root, "run", "--rm", "-p", fmt.Sprintf("127.0.0.1:%d:80", busy), "busybox:it", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "address already in use") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("port in use: %d %q", r.code, r.stderr)
	}
	if rules, leases, veths := netState(t, root); ctrRules(rules) != 0 || leases != 0 || len(veths) != 0 || len(containerDirs(root)) != 0 {
		t.Fatalf("a refused run left rules %v, leases %d, veths %v, containers %v", rules, leases, veths, containerDirs(root))
	}
	mustEngine(t, root, "network", "create", "--subnet", "10.214.0.0/16", "a")
	for _, bad := range [][]string{
		{"network", "create", "--subnet", "10.214.5.0/24", "b"},
		{"network", "create", "--subnet", "10.215.0.0/16", "a"},
		{"network", "create", "--subnet", "not-a-subnet", "c"},
		{"network", "create", "--subnet", "10.216.0.0/24", "--gateway", "10.1.1.1", "d"},
		{"network", "create", "bad/name"},
		{"network", "rm", "bridge"},
		{"run", "--rm", "--network", "a", "--network-alias", "bad alias!", "busybox:it", "true"},
		{"run", "--rm", "--network", "a", "--ip", "10.99.0.5", "busybox:it", "true"},
		{"run", "--rm", "--ip", "172.17.0.9", "busybox:it", "true"},
		{"run", "--rm", "--link-local-ip", "169.254.1", "busybox:it", "true"},
		{"run", "--rm", "--network", "none", "--link-local-ip", "169.254.1.1", "busybox:it", "true"},
		{"run", "--rm", "-p", "80/sctp", "busybox:it", "true"},
		{"run", "--rm", "-p", "70000:80", "busybox:it", "true"},
		{"run", "--rm", "--network", "none", "-p", "80", "busybox:it", "true"},
		{"run", "--rm", "--add-host", "x:notanip", "busybox:it", "true"},
		{"network", "create", "-o", "com.docker.network.bridge.enable_icc=false", "e"},
		{"network", "create", "-o", "com.docker.network.driver.mtu=10", "e"},
		{"network", "create", "-o", "com.docker.network.bridge.name=lo", "e"},
		{"network", "create", "-o", "com.docker.network.bridge.name=far-too-long-a-name", "e"},
		{"network", "create", "--subnet", "10.217.0.0/24", "--aux-address", "h=10.1.1.1", "e"},
		{"network", "create", "--aux-address", "no-address", "e"},
		{"network", "create", "--ipam-driver", "dhcp", "e"},
	} {
		r := engine(t, root, bad...)
		if r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: %d %q", bad, r.code, r.stderr)
		}
	}
	if ls := mustEngine(t, root, "network", "ls", "-q", "--filter", "type=custom"); strings.Count(ls, "\n") != 1 {
		t.Fatalf("networks after refused creates: %q", ls)
	}
	if rules, leases, veths := netState(t, root); ctrRules(rules) != 0 || leases != 0 || len(veths) != 0 || len(containerDirs(root)) != 0 {
		t.Fatalf("refused runs left rules %v, leases %d, veths %v, containers %v", rules, leases, veths, containerDirs(root))
	}
}

// 50 concurrent runs on one network get 50 different addresses; after
// rm nothing of theirs remains.
func TestNetworkConcurrentAddressesUnique(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "network", "create", "--subnet", "10.217.0.0/24", "many")
	var wg sync.WaitGroup
	ids := make([]string, 50)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := engine(t, root, "run", "-d", "--network", "many", "busybox:it", "sleep", "100")
			if r.code != 0 {
				t.Errorf("run %d: %d %s", i, r.code, r.stderr)
			}
			ids[i] = strings.TrimSpace(r.stdout)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	out := mustEngine(t, root, append([]string{"inspect", "-f", "{{.NetworkSettings.IPAddress}}"}, ids...)...)
	addrs := strings.Fields(out)
	sort.Strings(addrs)
	for i := 1; i < len(addrs); i++ {
		if addrs[i] == addrs[i-1] {
			t.Fatalf("%s handed out twice", addrs[i])
		}
	}
	if len(addrs) != 50 {
		t.Fatalf("%d addresses", len(addrs))
	}
	mustEngine(t, root, append([]string{"rm", "-f"}, ids...)...)
	if rules, leases, veths := netState(t, root); ctrRules(rules) != 0 || leases != 0 || len(veths) != 0 {
		t.Fatalf("after rm: rules %v, leases %d, veths %v", rules, leases, veths)
	}
}

// kill -9 of the monitor: the next command releases the lease and the
// published ports of the container it left.
func TestNetworkCleanupAfterMonitorKill(t *testing.T) {
	root := engineWithBusybox(t)
	id := strings.TrimSpace(mustEngine(t, root, "run", "-d", "-p", "127.0.0.1::80", "busybox:it", "sleep", "100"))
	if rules, leases, _ := netState(t, root); ctrRules(rules) != 1 || leases != 1 {
		t.Fatalf("while running: %v %d", rules, leases)
	}
	mon := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.Pid}}", id))
	b, _ := os.ReadFile(filepath.Join(root, "containers", id, "state.json"))
	var st struct{ MonitorPid int }
	json.Unmarshal(b, &st)
	pid := st.MonitorPid
	if pid == 0 || mon == "" {
		t.Fatal("no monitor pid")
	}
	syscall.Kill(pid, syscall.SIGKILL) // the monitor this test started
	waitFor(t, func() bool { reapZombies(); return syscall.Kill(pid, 0) != nil })
	if ps := mustEngine(t, root, "ps", "-a"); !strings.Contains(ps, "Exited") {
		t.Fatalf("ps: %s", ps)
	}
	if rules, leases, _ := netState(t, root); ctrRules(rules) != 0 || leases != 0 {
		t.Fatalf("after the monitor died: %v %d", rules, leases)
	}
	mustEngine(t, root, "rm", id)
}

// A published port answers another host: here a network namespace of
// the test's own, wired to the host by a veth pair, as a machine on the
// LAN would be. Direct access to the container's address from there is
// refused; only the published port gets in.
func TestNetworkPublishedPortFromAnotherHost(t *testing.T) {
	root := engineWithBusybox(t)
	httpImage(t, root)
	ns := "berth-it-lan"
	ipc := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	ipc("netns", "add", ns)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", ns).Run()
		exec.Command("ip", "link", "del", "vbit-lan").Run()
	})
	ipc("link", "add", "vbit-lan", "type", "veth", "peer", "name", "eth0", "netns", ns)
	ipc("addr", "add", "10.250.0.1/30", "dev", "vbit-lan")
	ipc("link", "set", "vbit-lan", "up")
	ipc("-n", ns, "addr", "add", "10.250.0.2/30", "dev", "eth0")
	ipc("-n", ns, "link", "set", "eth0", "up")
	ipc("-n", ns, "link", "set", "lo", "up")
	ipc("-n", ns, "route", "add", "default", "via", "10.250.0.1")
	port := freePort(t)
	mustEngine(t, root, "run", "-d", "--name", "http", "-p", fmt.Sprintf("%d:80", port), "scratch/http")
	ctrIP := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", "http"))
	bb := filepath.Join(*busybox, "bin", "busybox")
	get := func(url string) (string, error) {
		out, err := exec.Command("ip", "netns", "exec", ns, "timeout", "3", bb, "wget", "-qO-", url).Output()
		return string(out), err
	}
	waitFor(t, func() bool {
		s, err := get(fmt.Sprintf("http://10.250.0.1:%d/", port))
		return err == nil && s == "hello from scratch\n"
	})
	if s, err := get("http://" + ctrIP + "/"); err == nil {
		t.Fatalf("the container's address answered another host directly: %q", s)
	}
}

// TestNetworkDriverOptions: -o names the bridge and sets its MTU (the
// container's interface takes it), --aux-address keeps an address from
// containers, and inspect shows what was asked for; the named bridge
// goes with the network.
func TestNetworkDriverOptions(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "network", "create", "--subnet", "10.218.0.0/24", "-o", "com.docker.network.bridge.name=bt-opts0",
		"-o", "com.docker.network.driver.mtu=1400", "-o", "com.docker.network.bridge.enable_icc=true", "-o", "my.own=kept",
		"--aux-address", "router=10.218.0.2", "--ipam-opt", "foo=bar", "opts")
	out := mustEngine(t, root, "run", "--rm", "--network", "opts", "busybox:it", "sh", "-c", "cat /sys/class/net/eth0/mtu; ip -4 -o addr show eth0")
	if !strings.HasPrefix(out, "1400\n") || !strings.Contains(out, "inet 10.218.0.3/24") {
		t.Fatalf("inside the container: %q", out)
	}
	got := mustEngine(t, root, "network", "inspect", "-f", `{{index .Options "com.docker.network.bridge.name"}} {{index .Options "com.docker.network.driver.mtu"}} {{index .Options "my.own"}} {{json (index .IPAM.Config 0).AuxiliaryAddresses}} {{json .IPAM.Options}}`, "opts")
	if got != `bt-opts0 1400 kept {"router":"10.218.0.2"} {"foo":"bar"}`+"\n" {
		t.Fatalf("inspect: %q", got)
	}
	if _, err := os.Stat("/sys/class/net/bt-opts0"); err != nil {
		t.Fatalf("the named bridge: %v", err)
	}
	if r := engine(t, root, "network", "create", "-o", "com.docker.network.bridge.name=bt-opts0", "again"); r.code == 0 || !strings.Contains(r.stderr, "network opts has that bridge") {
		t.Fatalf("a second network on the bridge: %d %q", r.code, r.stderr)
	}
	if r := engine(t, root, "run", "--rm", "--network", "opts", "--ip", "10.218.0.2", "busybox:it", "true"); r.code == 0 {
		t.Fatalf("--ip of an aux address: %d %q", r.code, r.stderr)
	}
	mustEngine(t, root, "network", "rm", "opts")
	if _, err := os.Stat("/sys/class/net/bt-opts0"); err == nil {
		t.Fatal("the named bridge outlived its network")
	}
}

// TestNetworkKillThenStartAtOnce: a start right after a kill finds the
// last run's host veth, which the kernel deletes with the old network
// namespace only later, and takes its name (docker-py's test_reload).
func TestNetworkKillThenStartAtOnce(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "run", "-d", "--name", "again", "busybox:it", "sleep", "60")
	for i := 0; i < 20; i++ {
		mustEngine(t, root, "kill", "again")
		if r := engine(t, root, "start", "again"); r.code != 0 {
			t.Fatalf("start %d after a kill: %d %q", i, r.code, r.stderr)
		}
	}
	if got := mustEngine(t, root, "exec", "again", "ls", "/sys/class/net"); got != "eth0\nlo\n" {
		t.Fatalf("the last run's interfaces: %q", got)
	}
	mustEngine(t, root, "rm", "-f", "again")
}

// TestNetworkGatewayPriority: of a container's networks, the one of the
// highest gw-priority gives the default route (ties: the first, and an
// internal network never does); network connect with a higher one takes
// it over, and disconnecting the network that gives it hands it to the
// next; run --network takes Docker's long form, repeated.
func TestNetworkGatewayPriority(t *testing.T) {
	root := engineWithBusybox(t)
	for i, n := range []string{"gwa", "gwb", "gwc", "gwd"} {
		args := []string{"network", "create", "--subnet", fmt.Sprintf("10.%d.0.0/24", 221+i)}
		if n == "gwc" {
			args = append(args, "--internal")
		}
		mustEngine(t, root, append(args, n)...)
	}
	route := func(ctr string) string {
		t.Helper()
		return strings.Join(strings.Fields(mustEngine(t, root, "exec", ctr, "sh", "-c", "ip route | grep ^default")), " ")
	}
	mustEngine(t, root, "run", "-d", "--name", "g", "--network", "gwa", "--network", "name=gwb,gw-priority=1,alias=bee", "busybox:it", "sleep", "100")
	if got := route("g"); got != "default via 10.222.0.1 dev eth1" {
		t.Fatalf("gw-priority at run: %q", got)
	}
	if got := mustEngine(t, root, "inspect", "-f", "{{.NetworkSettings.Networks.gwb.GwPriority}} {{.NetworkSettings.Networks.gwb.Aliases}}", "g"); got != "1 [bee]\n" {
		t.Fatalf("inspect: %q", got)
	}
	mustEngine(t, root, "network", "connect", "--gw-priority", "9", "gwc", "g") // internal: no gateway
	mustEngine(t, root, "network", "connect", "--gw-priority", "1", "gwd", "g") // a tie: the route stays
	if got := route("g"); got != "default via 10.222.0.1 dev eth1" {
		t.Fatalf("after connecting an internal network and a tie: %q", got)
	}
	mustEngine(t, root, "network", "disconnect", "gwd", "g")
	mustEngine(t, root, "network", "connect", "--gw-priority", "5", "gwd", "g")
	if got := route("g"); got != "default via 10.224.0.1 dev eth3" {
		t.Fatalf("after connecting a higher priority: %q", got)
	}
	mustEngine(t, root, "network", "disconnect", "gwd", "g")
	if got := route("g"); got != "default via 10.222.0.1 dev eth1" {
		t.Fatalf("after disconnecting the gateway's network: %q", got)
	}
	mustEngine(t, root, "network", "disconnect", "gwb", "g")
	if got := route("g"); got != "default via 10.221.0.1 dev eth0" {
		t.Fatalf("back to the first network: %q", got)
	}
	// Negative priorities lose to the default 0; bad forms are refused.
	mustEngine(t, root, "run", "-d", "--name", "h", "--network", "name=gwb,gw-priority=-1", "--network", "gwa", "busybox:it", "sleep", "100")
	if got := route("h"); got != "default via 10.221.0.1 dev eth1" {
		t.Fatalf("a negative priority: %q", got)
	}
	for _, bad := range []string{"name=gwa,gw-priority=x", "gw-priority=1", "name=gwa,colour=red"} {
		if r := engine(t, root, "run", "--rm", "--network", bad, "busybox:it", "true"); r.code != 125 {
			t.Fatalf("--network %s: %d %q", bad, r.code, r.stderr)
		}
	}
	mustEngine(t, root, "rm", "-f", "g", "h")
}

// TestNetworkIPv6: a network with --ipv6 is dual stack. Its containers
// get an IPv6 address (--ip6, or the next free one) and a default route
// through the bridge's; the name server answers AAAA; the host reaches
// a container on its IPv6 address and on a published port through the
// network's IPv6 gateway (the ip6 table's DNAT); a network without a
// subnet draws a unique local /64; the docker CLI makes and reads one
// through the API. Bad input is refused with nothing made.
func TestNetworkIPv6(t *testing.T) {
	keepIPv6Forwarding(t)
	root := engineWithBusybox(t)
	mustEngine(t, root, "network", "create", "--ipv6", "--subnet", "10.231.0.0/24", "--subnet", "fd42:beef:1::/64", "dual")
	mustEngine(t, root, "network", "create", "--ipv6", "auto6")
	// An IPv6 subnet without --ipv6 asks for IPv6, as with the docker CLI.
	mustEngine(t, root, "network", "create", "--subnet", "fd42:beef:6::/64", "implied")
	if got := mustEngine(t, root, "network", "inspect", "-f", "{{.EnableIPv6}}", "implied"); got != "true\n" {
		t.Fatalf("an IPv6 subnet alone: EnableIPv6 %q", got)
	}
	mustEngine(t, root, "network", "rm", "implied")
	if got := mustEngine(t, root, "network", "inspect", "-f", "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{end}}", "dual"); got != "true 10.231.0.0/24 10.231.0.1 fd42:beef:1::/64 fd42:beef:1::1 \n" {
		t.Fatalf("network inspect: %q", got)
	}
	if got := mustEngine(t, root, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", "auto6"); !regexp.MustCompile(`^\S+/\d+ fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::/64 \n$`).MatchString(got) {
		t.Fatalf("a drawn IPv6 subnet: %q", got)
	}
	port := freePort(t)
	mustEngine(t, root, "run", "-d", "--name", "web", "--network", "dual", "--ip6", "fd42:beef:1::80", "-p", strconv.Itoa(port)+":80", "busybox:it",
		"sh", "-c", "mkdir /www; echo on-v6 > /www/index.html; exec httpd -f -p 80 -h /www")
	if got := mustEngine(t, root, "inspect", "-f", "{{.NetworkSettings.Networks.dual.GlobalIPv6Address}}/{{.NetworkSettings.Networks.dual.GlobalIPv6PrefixLen}} {{.NetworkSettings.Networks.dual.IPv6Gateway}} {{.NetworkSettings.Networks.dual.IPAMConfig.IPv6Address}}", "web"); got != "fd42:beef:1::80/64 fd42:beef:1::1 fd42:beef:1::80\n" {
		t.Fatalf("inspect: %q", got)
	}
	out := mustEngine(t, root, "run", "--rm", "--network", "dual", "busybox:it", "sh", "-c",
		"ip -6 -o addr show eth0 scope global; ip -6 route show default; for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- 'http://[fd42:beef:1::80]/' && break; sleep 0.2; done; nslookup -type=aaaa web 127.0.0.11")
	for _, want := range []string{"inet6 fd42:beef:1::", "default via fd42:beef:1::1 dev eth0", "on-v6\n", "Address: fd42:beef:1::80"} {
		if !strings.Contains(out, want) {
			t.Fatalf("a second container on the network has no %q:\n%s", want, out)
		}
	}
	if got := getURLWhenUp(t, "http://[fd42:beef:1::80]/"); got != "on-v6\n" {
		t.Fatalf("the host to the container's IPv6 address: %q", got)
	}
	if got := getURLWhenUp(t, "http://[fd42:beef:1::1]:"+strconv.Itoa(port)+"/"); got != "on-v6\n" {
		t.Fatalf("the published port on the network's IPv6 gateway: %q", got)
	}
	if got := getURLWhenUp(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/"); got != "on-v6\n" {
		t.Fatalf("the published port on IPv4: %q", got)
	}
	for _, bad := range [][]string{
		{"network", "create", "--ipv6=false", "--subnet", "fd42:beef:2::/64", "v6without"},
		{"network", "create", "--ipv6", "--subnet", "fd42:beef:1::/80", "overlaps"},
		{"network", "create", "--ipv4=false", "--ipv6", "v6only"},
		{"network", "create", "--ipv6", "--subnet", "fd42:beef:3::/64", "--subnet", "fd42:beef:4::/64", "twosix"},
		{"run", "--rm", "--ip6", "fd42:beef:1::99", "--network", "bridge", "busybox:it", "true"},
		{"run", "--rm", "--ip6", "10.231.0.9", "--network", "dual", "busybox:it", "true"},
		{"run", "--rm", "--ip6", "fd42:beef:9::9", "--network", "dual", "busybox:it", "true"},
	} {
		if r := engine(t, root, bad...); r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, %q (want a one-line refusal)", bad, r.code, r.stderr)
		}
	}
	if got := mustEngine(t, root, "network", "ls", "--format", "{{.Name}}", "--filter", "type=custom"); got != "auto6\ndual\n" {
		t.Fatalf("refused creates left networks: %q", got)
	}
	// The docker CLI, through the API.
	sock, _ := apiServer(t, root)
	mustDocker(t, sock, "network", "create", "--ipv6", "--subnet", "fd42:beef:5::/64", "viaapi")
	if got := mustDocker(t, sock, "network", "inspect", "-f", "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{end}}", "viaapi"); !strings.HasPrefix(got, "true ") || !strings.Contains(got, "fd42:beef:5::/64") {
		t.Fatalf("docker network inspect: %q", got)
	}
	if got := mustDocker(t, sock, "run", "--rm", "--network", "viaapi", "--ip6", "fd42:beef:5::7", "busybox:it", "sh", "-c", "ip -6 -o addr show eth0 scope global"); !strings.Contains(got, "inet6 fd42:beef:5::7/64") {
		t.Fatalf("docker run --ip6: %q", got)
	}
	// Swarm's flags: --attachable is kept and shown, a scope other than
	// local refused.
	mustEngine(t, root, "network", "create", "--attachable", "--scope", "local", "att")
	if got := mustEngine(t, root, "network", "inspect", "-f", "{{.Attachable}} {{.Scope}}", "att"); got != "true local\n" {
		t.Fatalf("--attachable: %q", got)
	}
	if r := engine(t, root, "network", "create", "--scope", "swarm", "sw"); r.code == 0 || !strings.Contains(r.stderr, "local") {
		t.Fatalf("--scope swarm: %d %q", r.code, r.stderr)
	}
	mustEngine(t, root, "rm", "-f", "web")
	mustEngine(t, root, "network", "rm", "dual", "auto6", "viaapi", "att")
}
