package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// op is one peer's part of a scenario: setup and teardown run once,
// untimed; once runs one iteration and returns the time to count.
type op struct {
	setup    func() error
	once     func(i int) (time.Duration, error)
	teardown func()
}

type scenario struct {
	id, title, unit string
	runs            int  // upper bound on iterations (for long ones)
	loaded          bool // a CPU hog runs beside every iteration
	// op returns a peer's op, or nil and the reason it cannot run.
	op func(peer string) (*op, string)
	// values, instead of op, gives a non-timing row (RSS).
	values func(peer string) (string, string)
}

func isRuntime(p string) bool { return p == "berth" || p == "runc" || p == "crun" }

const (
	notRuntime = "a runtime-level operation; engines have no equivalent"
)

func scenarios(e *env) []scenario {
	floorNS := []string{"unshare", "--pid", "--net", "--ipc", "--uts", "--mount", "--cgroup", "--fork", "/bin/true"}
	floorNoNet := []string{"unshare", "--pid", "--ipc", "--uts", "--mount", "--cgroup", "--fork", "/bin/true"}

	// runOp times a whole container run of bundle for a peer.
	runOp := func(peer, bundle string, engineExtra []string, floor []string) (*op, string) {
		if why := e.skip[peer]; why != "" {
			return nil, why
		}
		switch {
		case isRuntime(peer):
			return &op{once: func(int) (time.Duration, error) {
				return e.timed(peer, append(e.runtimeArgv(peer), "run", "--bundle", e.bundles[bundle], e.id(peer))...)
			}}, ""
		case peer == "podman":
			return &op{once: func(int) (time.Duration, error) { return e.timed(peer, e.podmanRun(engineExtra...)...) }}, ""
		case peer == "docker":
			a := append(append(append([]string(nil), e.docker...), "run", "--rm"), engineExtra...)
			return &op{once: func(int) (time.Duration, error) { return e.timed(peer, append(a, image, "/bin/true")...) }}, ""
		case peer == "floor" && floor != nil:
			return &op{once: func(int) (time.Duration, error) { return e.timed("", floor...) }}, ""
		}
		return nil, "no equivalent"
	}

	// manyOp runs n containers per iteration, with par at a time.
	manyOp := func(peer string, n, par int) (*op, string) {
		one, why := runOp(peer, "net", []string{"--network", "none"}, floorNS)
		if one == nil {
			return nil, why
		}
		return &op{once: func(int) (time.Duration, error) {
			start := time.Now()
			var wg sync.WaitGroup
			var mu sync.Mutex
			var first error
			sem := make(chan struct{}, par)
			for i := 0; i < n; i++ {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					if _, err := one.once(0); err != nil {
						mu.Lock()
						if first == nil {
							first = err
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			return time.Since(start), first
		}}, ""
	}

	all := []scenario{
		{id: "run", title: "run /bin/true (pid, net, ipc, uts, mnt, cgroup ns)", unit: "ms",
			op: func(p string) (*op, string) { return runOp(p, "net", []string{"--network", "none"}, floorNS) }},
		{id: "run-nonet", title: "run /bin/true, no network namespace", unit: "ms",
			op: func(p string) (*op, string) { return runOp(p, "nonet", []string{"--network", "host"}, floorNoNet) }},
		{id: "run-memory", title: "run /bin/true, 64 MiB memory limit", unit: "ms",
			op: func(p string) (*op, string) {
				if p == "floor" {
					return nil, "the kernel floor has no cgroup"
				}
				return runOp(p, "memory", []string{"--network", "none", "--memory", "64m"}, nil)
			}},
		{id: "run-seccomp", title: "run /bin/true with Docker's default seccomp profile", unit: "ms",
			op: func(p string) (*op, string) {
				if !isRuntime(p) {
					return nil, "engines apply their default profile in every run: compare their run row"
				}
				return runOp(p, "seccomp", nil, nil)
			}},
		{id: "engine-run", title: "engine: run --rm --network none IMAGE /bin/true", unit: "ms",
			op: func(p string) (*op, string) {
				cli := e.engineCLI(p)
				if cli == nil {
					return nil, "not an engine"
				}
				a := append(append([]string(nil), cli...), "run", "--rm", "--network", "none")
				if p == "podman" {
					a = append(a, "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096")
				}
				a = append(a, image, "/bin/true")
				return &op{once: func(int) (time.Duration, error) { return e.timed("", a...) }}, ""
			}},
		{id: "engine-run-bridge", title: "engine: run --rm IMAGE /bin/true on the default bridge network", unit: "ms",
			op: func(p string) (*op, string) {
				cli := e.engineCLI(p)
				switch {
				case cli == nil:
					return nil, "not an engine"
				case p == "docker":
					return nil, "dockerd runs with --bridge=none --iptables=false here, to leave the host's firewall alone"
				}
				a := append(append([]string(nil), cli...), "run", "--rm")
				if p == "podman" {
					a = append(a, "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096")
				}
				a = append(a, image, "/bin/true")
				return &op{once: func(int) (time.Duration, error) { return e.timed("", a...) }}, ""
			}},
		{id: "net-setup", title: "network set-up and tear-down alone (bridge, veth, address, route, NAT)", unit: "ms",
			op: func(p string) (*op, string) {
				if p != "berth" {
					return nil, "measured inside berth; for peers see engine-run-bridge minus engine-run"
				}
				return e.netSetupOp()
			}},
		{id: "rootless-run", title: "engine, rootless: run --rm --network none IMAGE /bin/true", unit: "ms",
			op: func(p string) (*op, string) { return e.rootlessRunOp(p) }},
		{id: "port-tcp", title: "TCP host → container through a published port, rootful (iperf3)", unit: "Gbit/s",
			values: func(p string) (string, string) { return e.rootfulThroughput(p) }},
		{id: "rootless-port-tcp", title: "TCP host → container through a published port, rootless (iperf3; podman: slirp4netns)", unit: "Gbit/s",
			values: func(p string) (string, string) { return e.rootlessThroughput(p) }},
		{id: "create", title: "create (until the container waits for start)", unit: "ms",
			op: func(p string) (*op, string) { return e.createStartOp(p, false) }},
		{id: "start", title: "start of a created container", unit: "ms",
			op: func(p string) (*op, string) { return e.createStartOp(p, true) }},
		{id: "exec", title: "exec /bin/true into a running container", unit: "ms",
			op: func(p string) (*op, string) { return e.execOp(p) }},
		{id: "engine-exec", title: "engine: exec CONTAINER /bin/true into a running container", unit: "ms",
			op: func(p string) (*op, string) { return e.engineExecOp(p) }},
		{id: "serial-50", title: "50 containers, one after another", unit: "ms", runs: 5,
			op: func(p string) (*op, string) { return manyOp(p, 50, 1) }},
		{id: "parallel-50", title: "50 containers, 8 at a time", unit: "ms", runs: 5,
			op: func(p string) (*op, string) { return manyOp(p, 50, 8) }},
		{id: "rss", title: "peak RSS of the runtime process (run)", unit: "MiB",
			values: func(p string) (string, string) {
				if p == "floor" {
					return "", "not a runtime"
				}
				if kb, ok := e.rss[p]; ok {
					return fmt.Sprintf("%.1f MiB", float64(kb)/1024), ""
				}
				if why := e.skip[p]; why != "" {
					return "", why
				}
				return "", "the run scenario did not run"
			}},
		{id: "min-memory", title: "smallest memory limit that starts /bin/true", unit: "KiB",
			values: func(p string) (string, string) { return e.minMemory(p) }},
		{id: "monitor-rss", title: "idle RSS of the per-container monitor", unit: "MiB",
			values: func(p string) (string, string) { return e.monitorRSS(p, false) }},
		{id: "monitor-rss-net", title: "idle RSS of the per-container monitor, on a user-defined network (names served)", unit: "MiB",
			values: func(p string) (string, string) { return e.monitorRSS(p, true) }},
		{id: "pull", title: "pull of a 200 MB, 4-layer image from a loopback registry", unit: "ms", runs: 5,
			op: func(p string) (*op, string) { return e.pullOp(p) }},
		{id: "api-run", title: "docker CLI: run --rm IMAGE /bin/true through the engine's API (berth serve, dockerd, podman system service)", unit: "ms",
			op: func(p string) (*op, string) { return e.apiRunOp(p) }},
		{id: "api-exec", title: "docker CLI: exec CONTAINER /bin/true through the engine's API", unit: "ms",
			op: func(p string) (*op, string) { return e.apiExecOp(p) }},
		{id: "build-cold", title: "build a two-stage Dockerfile, --no-cache (docker: classic builder)", unit: "ms", runs: 10,
			op: func(p string) (*op, string) { return e.buildOp(p, "cold") }},
		{id: "build-cached", title: "the same build, fully cached", unit: "ms", runs: 20,
			op: func(p string) (*op, string) { return e.buildOp(p, "cached") }},
		{id: "build-edit", title: "the same build after one source file changes", unit: "ms", runs: 10,
			op: func(p string) (*op, string) { return e.buildOp(p, "edit") }},
		{id: "build-copy-3700", title: "build: COPY . of 3,700 small files, --no-cache", unit: "ms", runs: 5,
			op: func(p string) (*op, string) { return e.buildOp(p, "copy") }},
	}
	// The start path under load: the same rows with a CPU hog beside,
	// where berth's lead over runc and Podman shrank.
	for _, id := range []string{"run", "exec", "engine-run", "engine-exec"} {
		for _, sc := range all {
			if sc.id == id {
				sc.id, sc.title, sc.loaded = id+"-loaded", sc.title+", a CPU hog beside", true
				all = append(all, sc)
				break
			}
		}
	}
	return all
}

// hog keeps one CPU busy (a shell's empty loop) until stopped.
func hog() (stop func(), err error) {
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return func() {
		_ = cmd.Process.Kill() // the hog this harness started
		_ = cmd.Wait()         // reaped; killed is its status
	}, nil
}

// createStartOp times create (start=false) or start (start=true).
func (e *env) createStartOp(p string, start bool) (*op, string) {
	if why := e.skip[p]; why != "" {
		return nil, why
	}
	if !isRuntime(p) {
		if p == "floor" {
			return nil, "no kernel equivalent"
		}
		return nil, notRuntime
	}
	rt := e.runtimeArgv(p)
	return &op{once: func(int) (time.Duration, error) {
		id := e.id(p)
		create := append(append([]string(nil), rt...), "create", "--bundle", e.bundles["net"], id)
		defer e.quiet(append(append([]string(nil), rt...), "delete", "--force", id)...)
		if !start {
			return e.timed("", create...)
		}
		if _, err := e.timed("", create...); err != nil {
			return 0, err
		}
		return e.timed("", append(append([]string(nil), rt...), "start", id)...)
	}}, ""
}

// engineExecOp times an engine's exec into a long-running container:
// for berth, the CLI, its exec session's monitor and the runtime's join.
func (e *env) engineExecOp(p string) (*op, string) {
	cli := e.engineCLI(p)
	if cli == nil {
		return nil, "not an engine"
	}
	return e.cliExecOp(p, cli, "bench-"+p+"-exec"), ""
}

// cliExecOp times `CLI exec NAME /bin/true` into a sleeping container
// named name that the set-up runs with the CLI (docker's or podman's
// argv, or berth's).
func (e *env) cliExecOp(p string, cli []string, name string) *op {
	run := append(append([]string(nil), cli...), "run", "-d", "--name", name, "--network", "none")
	if p == "podman" {
		run = append(run, "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096")
	}
	return &op{
		setup: func() error {
			_, err := e.timed("", append(run, image, "sleep", "100000")...)
			return err
		},
		once: func(int) (time.Duration, error) {
			return e.timed("", append(append([]string(nil), cli...), "exec", name, "/bin/true")...)
		},
		teardown: func() { e.quiet(append(append([]string(nil), cli...), "rm", "-f", name)...) },
	}
}

// execOp times exec into a long-running container.
func (e *env) execOp(p string) (*op, string) {
	if why := e.skip[p]; why != "" {
		return nil, why
	}
	switch {
	case isRuntime(p):
		rt := e.runtimeArgv(p)
		id := e.id(p + "-exec")
		return &op{
			setup: func() error {
				if _, err := e.timed("", append(append([]string(nil), rt...), "run", "--detach", "--bundle", e.bundles["sleep"], id)...); err != nil {
					return err
				}
				return nil
			},
			once: func(int) (time.Duration, error) {
				return e.timed("", append(append([]string(nil), rt...), "exec", id, "/bin/true")...)
			},
			teardown: func() { e.quiet(append(append([]string(nil), rt...), "delete", "--force", id)...) },
		}, ""
	case p == "podman" || p == "docker":
		return e.engineExecOp(p) // an engine's exec is its only one
	case p == "floor":
		// nsenter into a sleeping process's namespaces: what joining
		// costs the kernel.
		var holder *os.Process
		var target string
		return &op{
			setup: func() error {
				var err error
				holder, target, err = startHolder()
				return err
			},
			once: func(int) (time.Duration, error) {
				return e.timed("", "nsenter", "--target", target, "--pid", "--net", "--ipc", "--uts", "--mount", "/bin/true")
			},
			teardown: func() {
				if holder != nil {
					holder.Kill()
					holder.Wait()
				}
			},
		}, ""
	}
	return nil, "no equivalent"
}

// startHolder starts `unshare --fork sleep` in new namespaces and returns
// it and the pid of its sleeping child (the namespaces' member).
func startHolder() (*os.Process, string, error) {
	p, err := os.StartProcess("/usr/bin/unshare", []string{"unshare", "--pid", "--net", "--ipc", "--uts", "--mount", "--fork", "--kill-child", "sleep", "100000"},
		&os.ProcAttr{Files: []*os.File{nil, nil, nil}})
	if err != nil {
		return nil, "", err
	}
	for i := 0; i < 200; i++ {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", p.Pid, p.Pid))
		if f := strings.Fields(string(data)); len(f) > 0 {
			if _, err := strconv.Atoi(f[0]); err == nil {
				return p, f[0], nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Kill()
	p.Wait()
	return nil, "", fmt.Errorf("unshare holder has no child")
}

// monitorRSS measures the idle RSS of an engine's per-container monitor
// (conmon for Podman, containerd-shim for Docker), with --network none
// or, with named, on a user-defined network whose names the container
// resolves (berth's name server is its monitor's; Podman's aardvark-dns
// and Docker's are one per host, not counted).
func (e *env) monitorRSS(p string, named bool) (string, string) {
	if why := e.skip[p]; why != "" {
		return "", why
	}
	cli := e.engineCLI(p)
	if cli == nil {
		return "", "a runtime has no monitor"
	}
	name, network := "bench-"+p+"-idle", "none"
	if named {
		name, network = name+"-net", "bench-"+p+"-names"
		if _, err := execOutput(append(append([]string(nil), cli...), "network", "create", network)...); err != nil {
			return "", "network create failed: " + oneLine(err)
		}
		defer e.quiet(append(append([]string(nil), cli...), "network", "rm", network)...)
	}
	run := append(append([]string(nil), cli...), "run", "-d", "--name", name, "--network", network)
	if p == "podman" {
		run = append(run, "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096")
	}
	if _, err := e.timed("", append(run, image, "sleep", "100000")...); err != nil {
		return "", "failed: " + oneLine(err)
	}
	defer e.quiet(append(append([]string(nil), cli...), "rm", "-f", name)...) // before the network's rm, deferred earlier
	time.Sleep(4 * time.Second)                                               // past berth's 2 s hand-off to its idle stage
	out, err := execOutput(append(append([]string(nil), cli...), "inspect", "--type", "container", "--format", "{{.State.Pid}}", name)...)
	if err != nil {
		return "", "inspect failed: " + oneLine(err)
	}
	pid := strings.TrimSpace(out)
	// The monitor is the container process's parent.
	ppid := parentOf(pid)
	if ppid == "" {
		return "", "monitor not found"
	}
	kb, anon := vmRSS(ppid), anonKB(ppid)
	comm, _ := os.ReadFile("/proc/" + ppid + "/comm")
	return fmt.Sprintf("%.1f MiB, %.1f anon (%s)", float64(kb)/1024, float64(anon)/1024, strings.TrimSpace(string(comm))), ""
}

// minMemory finds the smallest memory limit (memory+swap equal, so no
// swap) with which the peer runs /bin/true: what runs inside the
// container's cgroup before execve is charged to it.
func (e *env) minMemory(p string) (string, string) {
	if why := e.skip[p]; why != "" {
		return "", why
	}
	if !isRuntime(p) {
		return "", "runtimes only"
	}
	for _, kib := range []int64{32, 64, 128, 160, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768} {
		dir, err := os.MkdirTemp(e.work, "minmem")
		if err != nil {
			return "", err.Error()
		}
		limit := kib << 10
		err = writeBundle(dir, *rootfs, func(s map[string]any) {
			s["linux"].(map[string]any)["resources"] = map[string]any{"memory": map[string]any{"limit": limit, "swap": limit}}
		})
		if err != nil {
			return "", err.Error()
		}
		_, err = e.timed("", append(e.runtimeArgv(p), "run", "--bundle", dir, e.id(p+"-minmem"))...)
		os.RemoveAll(dir)
		if err == nil {
			return fmt.Sprintf("%d KiB", kib), ""
		}
	}
	return "", "did not start with 32 MiB"
}

// engineCLI is the engine command line of a peer, or nil for runtimes.
func (e *env) engineCLI(p string) []string {
	switch p {
	case "berth":
		return e.engine
	case "podman":
		return e.podman
	case "docker":
		return e.docker
	}
	return nil
}
