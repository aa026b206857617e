package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/blkiodev"
	mobycontainer "github.com/moby/moby/api/types/container"
	mobynetwork "github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/berth-project/berth/internal/engine"
)

// createFlags are the flags of create and run.
type createFlags struct {
	name, user, workdir, hostname, entrypoint, stopSignal, memory, restart         string
	networks                                                                       []string
	memorySwap, cpusetCpus, logDriver                                              string
	pid, ipc, uts, userns, detachKeys, ip, ip6, domainname, uidmap, gpus           string
	mac, runtime                                                                   string
	groupAdd, deviceRules, volumesFrom, links                                      []string
	env, envFile, labels, capAdd, capDrop, securityOpt, volumes, tmpfs, mounts     []string
	devices, ulimits, logOpts, publish, aliases, dns, dnsSearch, dnsOpts, addHosts []string
	linkLocalIPs, sysctls, annotations, expose, labelFiles, storageOpts            []string
	weightDevices, readBps, writeBps, readIops, writeIops                          []string
	shmSize, cgroupns, cpusetMems, memoryReservation, cidfile, pull                string
	platform, isolation, volumeDriver, kernelMemory, cgroupParent                  string
	cpuPeriod, cpuQuota, swappiness, rtPeriod, rtRuntime                           int64
	quiet, noContentTrust, sigProxy, useAPISocket                                  bool
	attach                                                                         []string
	oomScoreAdj                                                                    int
	blkioWeight                                                                    uint16
	oomKillDisable                                                                 bool
	rm, readOnly, privileged, tty, interactive, noPull, init, detach, publishAll   bool
	pidsLimit, cpuShares                                                           int64
	stopTimeout                                                                    int
	cpus                                                                           float64
	rf                                                                             registryFlags
	health                                                                         healthFlags
}

// healthFlags are --health-* and --no-healthcheck.
type healthFlags struct {
	cmd                                       string
	interval, timeout, startPeriod, startIntv time.Duration
	retries                                   int
	none                                      bool
}

func (h *healthFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&h.cmd, "health-cmd", "", "command to run to check health")
	fl.DurationVar(&h.interval, "health-interval", 0, "time between running the check (ms|s|m|h) (default 0s)")
	fl.DurationVar(&h.timeout, "health-timeout", 0, "maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fl.DurationVar(&h.startPeriod, "health-start-period", 0, "start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fl.DurationVar(&h.startIntv, "health-start-interval", 0, "time between running the check during the start period (ms|s|m|h) (default 0s)")
	fl.IntVar(&h.retries, "health-retries", 0, "consecutive failures needed to report unhealthy")
	fl.BoolVar(&h.none, "no-healthcheck", false, "disable any container-specified HEALTHCHECK")
}

// config is the create's healthcheck, as Docker's CLI makes it: nil
// when no flag is given.
func (h *healthFlags) config() (*mobycontainer.HealthConfig, error) {
	set := h.cmd != "" || h.interval != 0 || h.timeout != 0 || h.startPeriod != 0 || h.startIntv != 0 || h.retries != 0
	if h.none {
		if set {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return &mobycontainer.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !set {
		return nil, nil
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--health-interval", h.interval}, {"--health-timeout", h.timeout}, {"--health-start-period", h.startPeriod}, {"--health-start-interval", h.startIntv}} {
		if d.v < 0 {
			return nil, fmt.Errorf("%s cannot be negative", d.name)
		}
	}
	if h.retries < 0 {
		return nil, errors.New("--health-retries cannot be negative")
	}
	out := &mobycontainer.HealthConfig{Interval: h.interval, Timeout: h.timeout, StartPeriod: h.startPeriod,
		StartInterval: h.startIntv, Retries: h.retries}
	if h.cmd != "" {
		out.Test = []string{"CMD-SHELL", h.cmd}
	}
	return out, nil
}

func (f *createFlags) add(c *cobra.Command) {
	fl := c.Flags()
	fl.SetInterspersed(false)                    // flags after the image belong to the command
	fl.Bool("help", false, "help for "+c.Name()) // -h is --hostname, as in Docker
	fl.StringVar(&f.name, "name", "", "container name")
	fl.StringVarP(&f.user, "user", "u", "", "user[:group] to run as")
	fl.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&f.hostname, "hostname", "h", "", "container host name")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "override the image's ENTRYPOINT")
	fl.StringArrayVar(&f.networks, "network", nil, "network: bridge, a network's name, none, host or container:NAME, or name=NAME[,alias=A][,ip=IP][,gw-priority=N]…; repeatable")
	fl.StringArrayVar(&f.networks, "net", nil, "network (alias of --network)")
	_ = fl.MarkHidden("net") // fails only for a flag that does not exist: it is defined above
	fl.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a port: [IP:][HOST-PORT:]CONTAINER-PORT[/tcp|udp]")
	fl.BoolVarP(&f.publishAll, "publish-all", "P", false, "publish all exposed ports to random host ports")
	fl.StringVar(&f.ip, "ip", "", "IPv4 address on a user-defined network")
	fl.StringVar(&f.ip6, "ip6", "", "IPv6 address on a user-defined network with IPv6")
	fl.StringArrayVar(&f.aliases, "network-alias", nil, "another name for the container on its network")
	fl.StringArrayVar(&f.linkLocalIPs, "link-local-ip", nil, "a link-local address for the container (repeatable)")
	fl.StringArrayVar(&f.dns, "dns", nil, "DNS server")
	fl.StringArrayVar(&f.dnsSearch, "dns-search", nil, "DNS search domain")
	fl.StringArrayVar(&f.dnsOpts, "dns-option", nil, "DNS resolver option")
	fl.StringArrayVar(&f.addHosts, "add-host", nil, "add a host entry: NAME:IP (IP may be host-gateway)")
	fl.StringVar(&f.domainname, "domainname", "", "container NIS domain name")
	fl.StringVar(&f.stopSignal, "stop-signal", "", "signal that stops the container")
	fl.StringVar(&f.restart, "restart", "no", "restart policy: no, on-failure[:N], always, unless-stopped")
	fl.StringVarP(&f.memory, "memory", "m", "", "memory limit (e.g. 64m)")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set environment variables")
	fl.StringArrayVarP(&f.labels, "label", "l", nil, "set metadata")
	fl.StringArrayVar(&f.capAdd, "cap-add", nil, "add Linux capabilities")
	fl.StringArrayVar(&f.capDrop, "cap-drop", nil, "drop Linux capabilities")
	fl.StringArrayVar(&f.securityOpt, "security-opt", nil, "no-new-privileges, seccomp=unconfined|PROFILE.json")
	fl.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind mount HOST-PATH:CONTAINER-PATH[:ro]")
	fl.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs: CONTAINER-PATH[:OPTIONS]")
	fl.BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	fl.BoolVar(&f.readOnly, "read-only", false, "mount the root filesystem read-only")
	fl.BoolVar(&f.privileged, "privileged", false, "give every capability the host can grant, no seccomp, no masked paths")
	fl.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open even if not attached")
	fl.BoolVar(&f.init, "init", false, "run a tiny init as PID 1 that forwards signals and reaps zombies")
	fl.StringArrayVar(&f.envFile, "env-file", nil, "read environment variables from a file")
	fl.StringArrayVar(&f.mounts, "mount", nil, "attach a mount: type=bind|volume|tmpfs,source=…,target=…[,readonly]")
	fl.StringArrayVar(&f.devices, "device", nil, "add a host device: HOST[:CONTAINER][:rwm], or a CDI device: VENDOR/CLASS=NAME")
	fl.BoolVar(&f.useAPISocket, "use-api-socket", false, "mount berth serve's API socket at /var/run/docker.sock, with your registry logins")
	fl.StringVar(&f.gpus, "gpus", "", "GPUs to add, through CDI: all, a count, or device=INDEX|UUID[,…]")
	fl.StringArrayVar(&f.ulimits, "ulimit", nil, "ulimit: NAME=SOFT[:HARD]")
	fl.StringArrayVar(&f.logOpts, "log-opt", nil, "log options: max-size=SIZE, max-file=N")
	fl.StringVar(&f.logDriver, "log-driver", "json-file", "logging driver: json-file or none")
	fl.StringVar(&f.pid, "pid", "", "PID namespace: host or container:NAME")
	fl.StringVar(&f.ipc, "ipc", "", "IPC namespace: host or container:NAME")
	fl.StringVar(&f.uts, "uts", "", "UTS namespace: host")
	fl.StringVar(&f.uidmap, "uidmap", "", "run in a user namespace mapping container IDs 0:HOST-ID:SIZE (users and groups)")
	fl.StringVar(&f.userns, "userns", "", "user namespace: host (the default), auto or auto:size=N (a host ID range of its own)")
	fl.IntVar(&f.stopTimeout, "stop-timeout", 0, "seconds to wait for the stop signal before killing")
	fl.Int64Var(&f.pidsLimit, "pids-limit", 0, "process limit")
	fl.StringVar(&f.memorySwap, "memory-swap", "", "memory plus swap limit (-1: unlimited swap)")
	fl.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fl.Float64Var(&f.cpus, "cpus", 0, "CPU limit")
	fl.StringArrayVar(&f.groupAdd, "group-add", nil, "add additional groups to join")
	fl.StringArrayVar(&f.deviceRules, "device-cgroup-rule", nil, "add a rule to the cgroup allowed devices list: TYPE MAJOR:MINOR ACCESS")
	fl.StringArrayVar(&f.volumesFrom, "volumes-from", nil, "mount volumes from the specified container(s): CONTAINER[:ro|rw]")
	fl.StringVar(&f.mac, "mac-address", "", "container MAC address (e.g., 92:d0:c6:0a:29:33)")
	fl.StringArrayVar(&f.links, "link", nil, "add a legacy link to another container: NAME[:ALIAS]")
	fl.StringVar(&f.runtime, "runtime", "", "runtime to use for this container (berth's own: runc and berth name it)")
	fl.StringVar(&f.shmSize, "shm-size", "", "size of /dev/shm (e.g. 128m; default 64m)")
	fl.StringArrayVar(&f.sysctls, "sysctl", nil, "namespaced kernel parameter: NAME=VALUE")
	fl.StringVar(&f.cgroupns, "cgroupns", "", "cgroup namespace: private (the default) or host")
	fl.IntVar(&f.oomScoreAdj, "oom-score-adj", 0, "tune the container's OOM preferences (-1000 to 1000)")
	fl.BoolVar(&f.oomKillDisable, "oom-kill-disable", false, "disable the OOM killer")
	fl.Int64Var(&f.cpuPeriod, "cpu-period", 0, "limit the CPU CFS period (µs)")
	fl.Int64Var(&f.cpuQuota, "cpu-quota", 0, "limit the CPU CFS quota (µs)")
	fl.StringVar(&f.cpusetMems, "cpuset-mems", "", "memory nodes in which to allow execution (0-3, 0,1)")
	fl.StringVar(&f.memoryReservation, "memory-reservation", "", "memory soft limit")
	fl.Uint16Var(&f.blkioWeight, "blkio-weight", 0, "block IO relative weight, 10 to 1000, 0 to disable")
	fl.StringArrayVar(&f.annotations, "annotation", nil, "an annotation for the runtime: KEY=VALUE")
	fl.StringArrayVar(&f.storageOpts, "storage-opt", nil, "the writable layer's options: size=N (a file system of that size of its own)")
	fl.StringArrayVar(&f.expose, "expose", nil, "expose a port or a range of ports")
	fl.StringArrayVar(&f.labelFiles, "label-file", nil, "read labels from a file of lines")
	fl.StringVar(&f.cidfile, "cidfile", "", "write the container ID to the file")
	fl.StringVar(&f.pull, "pull", "missing", `pull the image before running ("always", "missing", "never")`)
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "suppress the pull output")
	fl.StringVar(&f.platform, "platform", "", "platform of the image (os/arch[/variant]); only this host's")
	fl.StringVar(&f.isolation, "isolation", "", "container isolation technology (on Linux: default only)")
	fl.StringVar(&f.volumeDriver, "volume-driver", "", "volume driver for the volumes the container makes (local only)")
	fl.StringVar(&f.kernelMemory, "kernel-memory", "", "kernel memory limit (ignored: recent kernels have none)")
	fl.Int64Var(&f.swappiness, "memory-swappiness", -1, "tune the container's memory swappiness (0 to 100)")
	fl.Int64Var(&f.rtPeriod, "cpu-rt-period", 0, "limit the CPU real-time period (µs)")
	fl.Int64Var(&f.rtRuntime, "cpu-rt-runtime", 0, "limit the CPU real-time runtime (µs)")
	fl.BoolVar(&f.noContentTrust, "disable-content-trust", true, "skip image verification (berth verifies no content trust)")
	fl.StringVar(&f.cgroupParent, "cgroup-parent", "", "parent cgroup of the container's (default /berth)")
	fl.StringArrayVarP(&f.attach, "attach", "a", nil, "attach to STDIN, STDOUT or STDERR (default: stdout and stderr, and stdin with -i)")
	fl.StringArrayVar(&f.weightDevices, "blkio-weight-device", nil, "block IO weight of a device: DEVICE:WEIGHT")
	fl.StringArrayVar(&f.readBps, "device-read-bps", nil, "limit the read rate from a device: DEVICE:RATE (e.g. /dev/sda:1mb)")
	fl.StringArrayVar(&f.writeBps, "device-write-bps", nil, "limit the write rate to a device: DEVICE:RATE")
	fl.StringArrayVar(&f.readIops, "device-read-iops", nil, "limit the read IO per second from a device: DEVICE:N")
	fl.StringArrayVar(&f.writeIops, "device-write-iops", nil, "limit the write IO per second to a device: DEVICE:N")
	f.health.add(fl)
	f.rf.add(c)
}

// blkioDevices reads the per-device block IO flags into r.
func (f *createFlags) blkioDevices(r *mobycontainer.Resources) error {
	split := func(flag, s string) (string, string, error) {
		i := strings.LastIndexByte(s, ':')
		if i <= 0 || i == len(s)-1 {
			return "", "", fmt.Errorf("--%s %q: want DEVICE:VALUE", flag, s)
		}
		return s[:i], s[i+1:], nil
	}
	for _, s := range f.weightDevices {
		dev, v, err := split("blkio-weight-device", s)
		if err != nil {
			return err
		}
		w, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return fmt.Errorf("--blkio-weight-device %q: the weight is a number", s)
		}
		r.BlkioWeightDevice = append(r.BlkioWeightDevice, &blkiodev.WeightDevice{Path: dev, Weight: uint16(w)})
	}
	for _, t := range []struct {
		flag  string
		vals  []string
		bytes bool
		dst   *[]*blkiodev.ThrottleDevice
	}{
		{"device-read-bps", f.readBps, true, &r.BlkioDeviceReadBps}, {"device-write-bps", f.writeBps, true, &r.BlkioDeviceWriteBps},
		{"device-read-iops", f.readIops, false, &r.BlkioDeviceReadIOps}, {"device-write-iops", f.writeIops, false, &r.BlkioDeviceWriteIOps},
	} {
		for _, s := range t.vals {
			dev, v, err := split(t.flag, s)
			if err != nil {
				return err
			}
			var n uint64
			if t.bytes {
				b, err := engine.ParseBytes(v)
				if err != nil || b < 0 {
					return fmt.Errorf("--%s %q: invalid rate", t.flag, s)
				}
				n = uint64(b)
			} else if n, err = strconv.ParseUint(v, 10, 64); err != nil {
				return fmt.Errorf("--%s %q: invalid count", t.flag, s)
			}
			*t.dst = append(*t.dst, &blkiodev.ThrottleDevice{Path: dev, Rate: n})
		}
	}
	return nil
}

// checkHostPlatform takes a --platform that is this host's (or none):
// berth's store keeps images of this host's platform only.
func checkHostPlatform(p string) error {
	if host := goruntime.GOOS + "/" + goruntime.GOARCH; p != "" && p != host && p != goruntime.GOARCH {
		return fmt.Errorf("--platform %s: berth keeps and runs images of this host's platform only (%s)", p, host)
	}
	return nil
}

// hostPlatformFlag gives c Docker's --platform, checked before c runs.
func hostPlatformFlag(c *cobra.Command) *cobra.Command {
	var p string
	c.Flags().StringVar(&p, "platform", "", "the image's platform (os/arch): this host's only")
	c.PreRunE = func(*cobra.Command, []string) error {
		if err := checkHostPlatform(p); err != nil {
			return usageError{err}
		}
		return nil
	}
	return c
}

// dropCidfile removes the --cidfile of a container that was not made.
func (f *createFlags) dropCidfile() {
	if f.cidfile != "" {
		_ = os.Remove(f.cidfile) // written by us moments ago; gone is fine
	}
}

// keyValues reads NAME=VALUE flags into a map, named by flag for errors.
func keyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--%s %q: want NAME=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

// options turns the flags into the engine's create options: Docker's
// create request, as Docker's CLI builds it.
func (f *createFlags) options(cmd *cobra.Command, args []string) (engine.CreateOptions, error) {
	o := engine.CreateOptions{UseAPISocket: f.useAPISocket}
	fail := func(err error) (engine.CreateOptions, error) { return engine.CreateOptions{}, usageError{err} }
	mem, err := engine.ParseBytes(f.memory)
	if err != nil {
		return fail(fmt.Errorf("--memory: %w", err))
	}
	var swap int64
	if f.memorySwap == "-1" {
		swap = -1
	} else if swap, err = engine.ParseBytes(f.memorySwap); err != nil {
		return fail(fmt.Errorf("--memory-swap: %w", err))
	}
	restart, err := engine.ParseRestartPolicy(f.restart)
	if err != nil {
		return fail(err)
	}
	var env []string
	for _, file := range f.envFile {
		kvs, err := readEnvFile(file)
		if err != nil {
			return fail(err)
		}
		env = append(env, kvs...)
	}
	env = append(env, f.env...)
	for i, kv := range env {
		if !strings.Contains(kv, "=") { // -e NAME takes the caller's value
			env[i] = kv + "=" + os.Getenv(kv)
		}
	}
	ports, err := engine.ParsePortBindings(f.publish)
	if err != nil {
		return fail(err)
	}
	var labels []string
	for _, file := range f.labelFiles {
		lines, err := readEnvFile(file) // the same format: lines, # comments
		if err != nil {
			return fail(fmt.Errorf("--label-file: %w", err))
		}
		labels = append(labels, lines...)
	}
	labels = append(labels, f.labels...)
	o.Name = f.name
	o.Config = mobycontainer.Config{Image: args[0], Cmd: args[1:], Env: env, User: f.user, WorkingDir: f.workdir,
		Hostname: f.hostname, Domainname: f.domainname, Labels: labelMap(labels), StopSignal: f.stopSignal,
		Tty: f.tty, OpenStdin: f.interactive, StdinOnce: f.interactive && !f.detach && cmd.Name() == "run"}
	if len(o.Config.Cmd) == 0 {
		o.Config.Cmd = nil
	}
	if cmd.Flags().Changed("stop-timeout") {
		o.Config.StopTimeout = &f.stopTimeout
	}
	if o.Config.Healthcheck, err = f.health.config(); err != nil {
		return fail(err)
	}
	if cmd.Flags().Changed("entrypoint") { // "--entrypoint ''" clears it
		o.Config.Entrypoint = []string{f.entrypoint}
	}
	// The first --network is the mode; each in the long form brings its
	// endpoint's settings, and the others join too (API 1.44).
	mode, endpoints := "bridge", map[string]*mobynetwork.EndpointSettings{}
	var first *mobynetwork.EndpointSettings
	for i, spec := range f.networks {
		name, es, err := engine.ParseNetworkFlag(spec)
		if err != nil {
			return fail(err)
		}
		if i == 0 {
			mode, first = name, es
		}
		if es == nil {
			es = &mobynetwork.EndpointSettings{}
		}
		if i > 0 || first != nil {
			endpoints[name] = es
		}
	}
	hc := mobycontainer.HostConfig{AutoRemove: f.rm, ReadonlyRootfs: f.readOnly, Privileged: f.privileged, CapAdd: f.capAdd,
		CapDrop: f.capDrop, SecurityOpt: f.securityOpt, NetworkMode: mobycontainer.NetworkMode(mode),
		Binds: f.volumes, Tmpfs: tmpfsMap(f.tmpfs), RestartPolicy: restart, PortBindings: ports, PublishAllPorts: f.publishAll,
		PidMode: mobycontainer.PidMode(f.pid), IpcMode: mobycontainer.IpcMode(f.ipc), UTSMode: mobycontainer.UTSMode(f.uts),
		UsernsMode: mobycontainer.UsernsMode(f.userns), DNSSearch: f.dnsSearch, DNSOptions: f.dnsOpts, ExtraHosts: f.addHosts,
		LogConfig: mobycontainer.LogConfig{Type: f.logDriver, Config: map[string]string{}},
		Resources: mobycontainer.Resources{Memory: mem, MemorySwap: swap, NanoCPUs: int64(f.cpus * 1e9),
			CPUShares: f.cpuShares, CpusetCpus: f.cpusetCpus}}
	hc.GroupAdd, hc.DeviceCgroupRules, hc.VolumesFrom, hc.Runtime, hc.Links = f.groupAdd, f.deviceRules, f.volumesFrom, f.runtime, f.links
	hc.CgroupnsMode, hc.OomScoreAdj, hc.CPUPeriod, hc.CPUQuota = mobycontainer.CgroupnsMode(f.cgroupns), f.oomScoreAdj, f.cpuPeriod, f.cpuQuota
	hc.CpusetMems, hc.BlkioWeight = f.cpusetMems, f.blkioWeight
	hc.Isolation, hc.VolumeDriver, hc.CgroupParent = mobycontainer.Isolation(f.isolation), f.volumeDriver, f.cgroupParent
	hc.CPURealtimePeriod, hc.CPURealtimeRuntime = f.rtPeriod, f.rtRuntime
	if f.swappiness != -1 {
		hc.MemorySwappiness = &f.swappiness
	}
	if f.kernelMemory != "" {
		fmt.Fprintln(os.Stderr, "WARNING: --kernel-memory is ignored: kernel memory limits are deprecated, and this kernel has none")
	}
	if err := checkHostPlatform(f.platform); err != nil {
		return fail(err)
	}
	if err := f.blkioDevices(&hc.Resources); err != nil {
		return fail(err)
	}
	attach, err := attachedStreams(f.attach)
	if err != nil {
		return fail(err)
	}
	if len(attach) > 0 {
		o.Config.AttachStdin, o.Config.AttachStdout, o.Config.AttachStderr = attach["stdin"], attach["stdout"], attach["stderr"]
	}
	if cmd.Flags().Changed("oom-kill-disable") {
		hc.OomKillDisable = &f.oomKillDisable
	}
	if f.shmSize != "" {
		if hc.ShmSize, err = engine.ParseBytes(f.shmSize); err != nil {
			return fail(fmt.Errorf("--shm-size: %w", err))
		}
	}
	if f.memoryReservation != "" {
		if hc.MemoryReservation, err = engine.ParseBytes(f.memoryReservation); err != nil {
			return fail(fmt.Errorf("--memory-reservation: %w", err))
		}
	}
	if hc.Sysctls, err = keyValues("sysctl", f.sysctls); err != nil {
		return fail(err)
	}
	if hc.StorageOpt, err = keyValues("storage-opt", f.storageOpts); err != nil {
		return fail(err)
	}
	if hc.Annotations, err = keyValues("annotation", f.annotations); err != nil {
		return fail(err)
	}
	for _, e := range f.expose {
		ps, err := engine.ParseExpose(e)
		if err != nil {
			return fail(err)
		}
		if o.Config.ExposedPorts == nil {
			o.Config.ExposedPorts = mobynetwork.PortSet{}
		}
		for _, p := range ps {
			o.Config.ExposedPorts[p] = struct{}{}
		}
	}
	if f.init {
		hc.Init = &f.init
	}
	if f.pidsLimit != 0 {
		hc.PidsLimit = &f.pidsLimit
	}
	for _, d := range f.dns {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return fail(fmt.Errorf("--dns %q: not an IP address", d))
		}
		hc.DNS = append(hc.DNS, a)
	}
	var cdiNames []string
	for _, d := range f.devices {
		if engine.IsCDIDevice(d) {
			cdiNames = append(cdiNames, d)
			continue
		}
		dm, err := engine.ParseDevice(d)
		if err != nil {
			return fail(err)
		}
		hc.Devices = append(hc.Devices, dm)
	}
	if len(cdiNames) > 0 {
		hc.DeviceRequests = append(hc.DeviceRequests, mobycontainer.DeviceRequest{Driver: "cdi", DeviceIDs: cdiNames})
	}
	if f.gpus != "" {
		r, err := engine.ParseGPUs(f.gpus)
		if err != nil {
			return fail(err)
		}
		hc.DeviceRequests = append(hc.DeviceRequests, r)
	}
	for _, u := range f.ulimits {
		ul, err := engine.ParseUlimit(u)
		if err != nil {
			return fail(err)
		}
		hc.Ulimits = append(hc.Ulimits, ul)
	}
	for _, m := range f.mounts {
		mm, err := engine.ParseMount(m)
		if err != nil {
			return fail(err)
		}
		hc.Mounts = append(hc.Mounts, mm)
	}
	for _, lo := range f.logOpts {
		k, v, ok := strings.Cut(lo, "=")
		if !ok {
			return fail(fmt.Errorf("--log-opt %q: want KEY=VALUE", lo))
		}
		hc.LogConfig.Config[k] = v
	}
	if f.uts != "" && f.uts != "host" {
		return fail(fmt.Errorf("--uts %q: want host", f.uts))
	}
	o.HostConfig = hc
	if f.ip != "" || f.ip6 != "" || len(f.aliases) > 0 || f.mac != "" || len(f.linkLocalIPs) > 0 {
		if first != nil {
			return fail(errors.New("conflicting options: --ip, --ip6, --network-alias, --mac-address and --link-local-ip with a --network of the long form"))
		}
		es := &mobynetwork.EndpointSettings{Aliases: f.aliases}
		if f.mac != "" {
			hw, err := net.ParseMAC(f.mac)
			if err != nil {
				return fail(fmt.Errorf("--mac-address %q: not a MAC address", f.mac))
			}
			es.MacAddress = mobynetwork.HardwareAddr(hw)
		}
		if f.ip != "" {
			a, err := netip.ParseAddr(f.ip)
			if err != nil {
				return fail(fmt.Errorf("--ip %q: not an IP address", f.ip))
			}
			es.IPAMConfig = &mobynetwork.EndpointIPAMConfig{IPv4Address: a}
		}
		if f.ip6 != "" {
			a, err := netip.ParseAddr(f.ip6)
			if err != nil || !a.Is6() {
				return fail(fmt.Errorf("--ip6 %q: not an IPv6 address", f.ip6))
			}
			if es.IPAMConfig == nil {
				es.IPAMConfig = &mobynetwork.EndpointIPAMConfig{}
			}
			es.IPAMConfig.IPv6Address = a
		}
		for _, s := range f.linkLocalIPs {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return fail(fmt.Errorf("--link-local-ip %q: not an IP address", s))
			}
			if es.IPAMConfig == nil {
				es.IPAMConfig = &mobynetwork.EndpointIPAMConfig{}
			}
			es.IPAMConfig.LinkLocalIPs = append(es.IPAMConfig.LinkLocalIPs, a)
		}
		endpoints[mode] = es
	}
	if len(endpoints) > 0 {
		o.Networking.EndpointsConfig = endpoints
	}
	if f.uidmap != "" {
		r, err := engine.ParseIDMap(f.uidmap)
		if err != nil {
			return fail(err)
		}
		if f.userns != "" {
			return fail(errors.New("--uidmap and --userns are exclusive"))
		}
		o.IDMap = &r
	}
	switch f.pull {
	case "missing", "always":
		o.Pull = &engine.PullOptions{RegistryOptions: f.rf.options(), Progress: os.Stderr}
		if f.quiet {
			o.Pull.Progress = nil
		}
	case "never":
	default:
		return fail(fmt.Errorf(`--pull %q: want "always", "missing" or "never"`, f.pull))
	}
	return o, nil
}

// prelude opens the engine and reads the flags, for create and run;
// berth's own failures are Docker's 125.
func (f *createFlags) prelude(g *globals, cmd *cobra.Command, args []string) (*engine.Engine, engine.CreateOptions, error) {
	e, err := g.engine()
	if err != nil {
		return nil, engine.CreateOptions{}, &engine.StatusError{Status: engine.StatusFailed, Err: err}
	}
	o, err := f.options(cmd, args)
	if err != nil {
		return e, o, err
	}
	if f.cidfile != "" {
		// Docker's CLI refuses a file that is there: it may be another
		// container's, still running.
		if _, err := os.Stat(f.cidfile); err == nil {
			return e, o, &engine.StatusError{Status: engine.StatusFailed, Err: fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", f.cidfile)}
		}
		o.ID = engine.NewContainerID()
		if err := os.WriteFile(f.cidfile, []byte(o.ID), 0o644); err != nil {
			return e, o, &engine.StatusError{Status: engine.StatusFailed, Err: fmt.Errorf("--cidfile: %w", err)}
		}
	}
	if f.pull == "always" {
		ctx, cancel := interruptible()
		defer cancel()
		named, _ := engine.WithDefaultTag(o.Config.Image)
		if _, err := e.ImagePull(ctx, named, *o.Pull); err != nil {
			return e, o, &engine.StatusError{Status: engine.StatusFailed, Err: err}
		}
	}
	return e, o, nil
}

func createCommand(g *globals) *cobra.Command {
	var f createFlags
	c := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, o, err := f.prelude(g, cmd, args)
			if err != nil {
				return err
			}
			ctx, cancel := interruptible()
			defer cancel()
			res, err := e.ContainerCreate(ctx, o)
			if err != nil {
				f.dropCidfile()
				return &engine.StatusError{Status: engine.StatusFailed, Err: err}
			}
			fmt.Println(res.ID)
			return nil
		},
	}
	f.add(c)
	return c
}

// needTerminal refuses -it with a stdin that is not a terminal, as
// Docker's CLI does: the container's terminal would get a pipe's bytes
// raw, with no terminal of the user's to restore.
func needTerminal(interactive, tty, detach bool) error {
	if interactive && tty && !detach && !term.IsTerminal(int(os.Stdin.Fd())) {
		return errors.New("the input device is not a TTY")
	}
	return nil
}

func runCommand(g *globals) *cobra.Command {
	var f createFlags
	c := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and start a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, o, err := f.prelude(g, cmd, args)
			if err != nil {
				return err
			}
			ctx, cancel := interruptible()
			defer cancel()
			if err := needTerminal(f.interactive, f.tty, f.detach); err != nil {
				return err
			}
			attach, err := attachedStreams(f.attach)
			if err != nil {
				return usageError{err}
			}
			if f.detach && len(f.attach) > 0 {
				return usageError{errors.New("conflicting options: cannot specify both --attach and --detach")}
			}
			if f.detach {
				res, err := e.ContainerRun(ctx, o, nil)
				if err != nil {
					f.dropCidfile()
					return err
				}
				fmt.Println(res.ID)
				return nil
			}
			s, done := clientStreams(f.interactive || attach["stdin"], f.tty, f.detachKeys, f.sigProxy)
			defer done()
			if len(attach) > 0 {
				if !attach["stdout"] {
					s.Stdout = nil
				}
				if !attach["stderr"] {
					s.Stderr = nil
				}
				if !attach["stdin"] {
					s.Stdin = nil
				}
			}
			res, err := e.ContainerRun(ctx, o, &s)
			if err != nil || res.Detached {
				return err
			}
			return exitError{res.ExitCode}
		},
	}
	f.add(c)
	c.Flags().BoolVarP(&f.detach, "detach", "d", false, "run in the background and print the container ID")
	c.Flags().StringVar(&f.detachKeys, "detach-keys", "", "key sequence for detaching (default ctrl-p,ctrl-q)")
	c.Flags().BoolVar(&f.sigProxy, "sig-proxy", true, "proxy received signals to the process")
	return c
}

// attachedStreams reads -a values: stdin, stdout, stderr, any case.
func attachedStreams(values []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, v := range values {
		s := strings.ToLower(v)
		if s != "stdin" && s != "stdout" && s != "stderr" {
			return nil, fmt.Errorf("--attach %q: want stdin, stdout or stderr", v)
		}
		out[s] = true
	}
	return out, nil
}

func startCommand(g *globals) *cobra.Command {
	var attachOut, interactive bool
	var keys string
	c := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			if (attachOut || interactive) && len(args) > 1 {
				return usageError{errors.New("you cannot start and attach multiple containers at once")}
			}
			ctx, cancel := interruptible()
			defer cancel()
			if attachOut || interactive {
				tty := false
				if in, err := e.ContainerInspect(args[0]); err == nil {
					tty = in.Config.Tty
				}
				s, done := clientStreams(interactive, tty, keys, true)
				defer done()
				res, err := e.ContainerStartAttached(ctx, args[0], s)
				if err != nil || res.Detached {
					return err
				}
				return exitError{res.ExitCode}
			}
			return eachName(args, func(a string) error { return e.ContainerStart(ctx, a) })
		},
	}
	c.Flags().BoolVarP(&attachOut, "attach", "a", false, "attach to the output and exit with the container")
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach the container's STDIN")
	c.Flags().StringVar(&keys, "detach-keys", "", "key sequence for detaching (default ctrl-p,ctrl-q)")
	return c
}

// proxiedSignals are the signals a client without a terminal forwards
// to the container (Docker's --sig-proxy).
var proxiedSignals = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2}

func proxySignals() (<-chan os.Signal, func()) {
	c := make(chan os.Signal, 8)
	signal.Notify(c, proxiedSignals...)
	return c, func() { signal.Stop(c) }
}

func tmpfsMap(list []string) map[string]string {
	if len(list) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, t := range list {
		d, o, _ := strings.Cut(t, ":")
		m[d] = o
	}
	return m
}

// readEnvFile reads --env-file as Docker does: KEY=VALUE lines, a bare
// KEY takes the caller's value, # starts a comment line.
func readEnvFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	var out []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimLeft(strings.TrimSuffix(line, "\r"), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, hasV := strings.Cut(line, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("--env-file %s:%d: invalid variable name %q", path, i+1, k)
		}
		if !hasV {
			v, ok := os.LookupEnv(k)
			if !ok {
				continue
			}
			line = k + "=" + v
		}
		out = append(out, line)
	}
	return out, nil
}
