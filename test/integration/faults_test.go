package integration

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/network"
	"github.com/berth-project/berth/internal/network/firewall"
)

// killedAt runs berth with args, halts the process that reaches who's
// phase (BERTH_TRACE_HALT: it stops itself there), calls halted (if
// any), kills it, and waits for the command to end; it returns what the
// command printed.
func killedAt(t *testing.T, root, who, phase string, halted func(), args ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "halted")
	cmd := exec.Command(*berthBin, append([]string{"--root", root, "--runroot", filepath.Join(root, "run")}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(root, "docker-config"), "BERTH_TRACE_HALT="+file+":"+who+":"+phase)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	pid := 0
	for deadline := time.Now().Add(20 * time.Second); pid == 0; {
		if b, err := os.ReadFile(file); err == nil && len(b) > 0 && stopped(string(b)) {
			pid, _ = strconv.Atoi(string(b))
			break
		}
		select {
		case <-done:
			// The command may end first when the phase is a process's
			// of its own (a monitor's after the start it reported): that
			// one halts at the phase all the same, and is killed there.
			for wait := 0; wait < 100 && pid == 0; wait++ {
				if b, err := os.ReadFile(file); err == nil && len(b) > 0 && stopped(string(b)) {
					pid, _ = strconv.Atoi(string(b))
				}
				time.Sleep(10 * time.Millisecond)
			}
			if pid == 0 {
				t.Fatalf("berth %v ended before %s reached %q: %s", args, who, phase, out.String())
			}
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("%s never reached %q", who, phase)
		}
	}
	if halted != nil {
		halted()
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil { // the process this command started and halted
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("berth %v hangs after its %s was killed at %q", args, who, phase)
	}
	return out.String()
}

// stopped reports whether process pid is stopped by a signal.
func stopped(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "T")
}

// A run whose CLI or monitor is killed at any point of start-up leaves a
// state every command handles: ps -a and rm -f work, nothing stays once
// rm and prune ran (no rule, lease, veth, record; the suite's leak check
// sees processes, mounts and cgroups), and the same name and port serve
// the next container — never a dead container's rule.
func TestEngineRunKilledAtEachPhaseLeavesNothing(t *testing.T) {
	root := engineWithBusybox(t)
	port := freePort(t)
	publish := fmt.Sprintf("127.0.0.1:%d:80", port)
	serve := func(body string) []string {
		return []string{"busybox:it", "sh", "-c", "mkdir /www && echo " + body + " > /www/index.html && exec httpd -f -p 80 -h /www"}
	}
	for _, at := range []struct{ who, phase string }{
		{"cli", "name claimed"},
		{"cli", "created"},
		{"cli", "hand over"},
		{"cli", "prepared"},
		{"monitor", "main"},
		{"runtime", "init in cgroups"},
		{"runtime", "init ready"},
		{"monitor", "created"},
		{"network", "ports published"},
		{"monitor", "networked"},
		{"monitor", "started"},
	} {
		t.Run(at.who+" "+at.phase, func(t *testing.T) {
			t.Cleanup(func() { engine(t, root, "rm", "-f", "f") })
			out := killedAt(t, root, at.who, at.phase, nil, append([]string{"run", "-d", "--name", "f", "-p", publish}, serve("dead")...)...)
			mustEngine(t, root, "ps", "-a")
			if r := engine(t, root, "rm", "-f", "f"); r.code != 0 && !strings.Contains(r.stderr, "No such container") {
				t.Fatalf("rm -f after the kill (run said %q): %d %s", out, r.code, r.stderr)
			}
			mustEngine(t, root, "container", "prune", "-f")
			if ids := mustEngine(t, root, "ps", "-aq"); ids != "" {
				t.Fatalf("containers left: %q", ids)
			}
			if rules, leases, veths := netState(t, root); ctrRules(rules) != 0 || leases != 0 || len(veths) != 0 {
				t.Fatalf("after rm: rules %v, leases %d, veths %v", rules, leases, veths)
			}
			if ents, _ := os.ReadDir(filepath.Join(root, "containers")); len(ents) > 1 {
				t.Fatalf("container records left: %v", ents)
			}
			mustEngine(t, root, append([]string{"run", "-d", "--name", "f", "-p", publish}, serve("alive")...)...)
			if got := getWhenUp(t, port); got != "alive\n" {
				t.Fatalf("the port serves %q", got)
			}
			mustEngine(t, root, "rm", "-f", "f")
		})
	}
}

// A port rule that no endpoint names (an older berth crashed between
// the rule and its record) would take the port from its next owner and
// forward to whoever leases the address: the next publish removes it.
func TestStalePortRuleIsRemovedByTheNextPublish(t *testing.T) {
	root := engineWithBusybox(t)
	port := freePort(t)
	mustEngine(t, root, "run", "-d", "--name", "first", "busybox:it", "sleep", "100") // makes the bridge and table
	stale := strings.Repeat("d", 64)
	fw := (&network.Manager{Root: root, Isolated: true}).Firewall()
	if err := fw.AddPorts(stale, []firewall.Port{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: uint16(port),
		ContainerIP: netip.MustParseAddr("172.17.0.99"), ContainerPort: 80, Proto: "tcp"}}); err != nil {
		t.Fatal(err)
	}
	mustEngine(t, root, "run", "-d", "--name", "web", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "busybox:it", "sh", "-c",
		"mkdir /www && echo alive > /www/index.html && exec httpd -f -p 80 -h /www")
	if rules, _, _ := netState(t, root); rules["ctr:"+stale] != 0 {
		t.Fatalf("the stale rule stays: %v", rules)
	}
	if got := getWhenUp(t, port); got != "alive\n" {
		t.Fatalf("the port serves %q", got)
	}
	mustEngine(t, root, "rm", "-f", "first", "web")
	if rules, leases, veths := netState(t, root); ctrRules(rules) != 0 || leases != 0 || len(veths) != 0 {
		t.Fatalf("after rm: rules %v, leases %d, veths %v", rules, leases, veths)
	}
}

// A commit pauses the container, as Docker's does, and says so; killed
// mid-way it leaves a frozen container with nobody to thaw it, which
// the next command thaws: it runs on, and exec reaches it.
func TestEngineCommitKilledMidWayLeavesARunningContainer(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "run", "-d", "--name", "c", "--network", "none", "busybox:it", "sleep", "100")
	killedAt(t, root, "cli", "commit paused", func() {
		if got := mustEngine(t, root, "inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "c"); got != "paused true\n" {
			t.Errorf("during the commit: %q", got)
		}
	}, "commit", "c", "snap:1")
	if got := mustEngine(t, root, "ps", "--format", "{{.Status}}"); !strings.HasPrefix(got, "Up ") || strings.Contains(got, "Paused") {
		t.Fatalf("after the killed commit ps says %q", got)
	}
	if got := mustEngine(t, root, "inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "c"); got != "running false\n" {
		t.Fatalf("after the killed commit: %q", got)
	}
	if got := mustEngine(t, root, "exec", "c", "echo", "thawed"); got != "thawed\n" {
		t.Fatalf("exec: %q", got)
	}
	mustEngine(t, root, "rm", "-f", "c")
}

// cp sees the container's mounts as the container does: into and out of
// a volume, a bind mount and a tmpfs while it runs (the data lands where
// the container reads it, not in the rootfs hidden under the mount);
// once stopped, the volume's and bind's contents and the engine's
// /etc/hostname rather than the image's.
func TestEngineCpThroughTheContainersMounts(t *testing.T) {
	root := engineWithBusybox(t)
	host, bind := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(host, "in"), []byte("copied\n"), 0o644)
	mustEngine(t, root, "run", "-d", "--name", "m", "--hostname", "mounted", "--network", "none", "-v", "cpvol:/vol", "-v", bind+":/bind",
		"--tmpfs", "/scratch", "busybox:it", "sleep", "100")
	for _, dir := range []string{"/vol", "/bind", "/scratch"} {
		mustEngine(t, root, "cp", filepath.Join(host, "in"), "m:"+dir+"/f")
		if got := mustEngine(t, root, "exec", "m", "cat", dir+"/f"); got != "copied\n" {
			t.Fatalf("cp into %s: the container reads %q", dir, got)
		}
		mustEngine(t, root, "exec", "m", "sh", "-c", "echo from-"+dir[1:]+" > "+dir+"/g")
		out := filepath.Join(host, "out"+dir[1:])
		mustEngine(t, root, "cp", "m:"+dir+"/g", out)
		if b, _ := os.ReadFile(out); string(b) != "from-"+dir[1:]+"\n" {
			t.Fatalf("cp out of %s: %q", dir, b)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(bind, "f")); string(b) != "copied\n" {
		t.Fatalf("the bind mount's source holds %q", b)
	}
	mustEngine(t, root, "stop", "-t", "0", "m")
	for _, dir := range []string{"/vol", "/bind"} {
		out := filepath.Join(host, "stopped"+dir[1:])
		mustEngine(t, root, "cp", "m:"+dir+"/f", out)
		if b, _ := os.ReadFile(out); string(b) != "copied\n" {
			t.Fatalf("cp out of %s of a stopped container: %q", dir, b)
		}
	}
	mustEngine(t, root, "cp", "m:/etc/hostname", filepath.Join(host, "hostname"))
	if b, _ := os.ReadFile(filepath.Join(host, "hostname")); string(b) != "mounted\n" {
		t.Fatalf("/etc/hostname of a stopped container: %q", b)
	}
	mustEngine(t, root, "rm", "-v", "m")
	mustEngine(t, root, "volume", "rm", "cpvol")
}

// A container with Docker's default CAP_NET_RAW that sends a SYN from
// its own address to 127.0.0.1:PORT through the gateway's MAC gets no
// answer from a host service bound to 127.0.0.1 (CVE-2020-8558), while a
// port published on 127.0.0.1 still serves the host.
func TestContainerCannotReachHostLoopback(t *testing.T) {
	root := engineWithBusybox(t)
	probe := probeBinary(t)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("secret\n"))
			c.Close()
		}
	}()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	if got := mustEngine(t, root, "run", "--rm", "-v", probe+":/probe:ro", "busybox:it", "/probe", "localnet", port); got != "no answer\n" {
		t.Fatalf("the raw SYN to the host's 127.0.0.1:%s: %q", port, got)
	}
	pub := freePort(t)
	mustEngine(t, root, "run", "-d", "--name", "pub", "-p", fmt.Sprintf("127.0.0.1:%d:80", pub), "busybox:it", "sh", "-c",
		"mkdir /www && echo published > /www/index.html && exec httpd -f -p 80 -h /www")
	if got := getWhenUp(t, pub); got != "published\n" {
		t.Fatalf("a port published on 127.0.0.1 serves %q", got)
	}
	mustEngine(t, root, "rm", "-f", "pub")
}

// An rm killed once the record is gone leaves a directory that nobody
// lists and a name: the next command collects both, so ps -a, rm -f
// and a run of the same name work.
func TestEngineRmKilledMidWayLeavesNothing(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "run", "-d", "--name", "gone", "--network", "none", "busybox:it", "sleep", "100")
	killedAt(t, root, "cli", "record removed", nil, "rm", "-f", "gone")
	if ids := mustEngine(t, root, "ps", "-aq"); ids != "" {
		t.Fatalf("ps -a after the killed rm: %q", ids)
	}
	if r := engine(t, root, "rm", "-f", "gone"); r.code != 0 && !strings.Contains(r.stderr, "No such container") {
		t.Fatalf("rm -f again: %d %s", r.code, r.stderr)
	}
	mustEngine(t, root, "run", "--rm", "--name", "gone", "--network", "none", "busybox:it", "true")
	if ents, _ := os.ReadDir(filepath.Join(root, "containers")); len(ents) > 1 {
		t.Fatalf("container records left: %v", ents)
	}
}
