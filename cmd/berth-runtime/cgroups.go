package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// psCmd is runc's ps: the container's processes, as json pids or as the
// rows of the host's ps(1) that belong to the container.
func (a *app) psCmd(args []string) (int, error) {
	fs := flags("ps")
	format := fs.String("format", "table", "")
	fs.StringVar(format, "f", "table", "")
	// Everything after the id goes to ps(1): stop parsing there.
	if err := fs.Parse(args); err != nil {
		return 2, fmt.Errorf("ps: %w", err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return 2, fmt.Errorf("ps: a container id is required")
	}
	id, psArgs := rest[0], rest[1:]
	pids, err := a.runtime().Pids(id)
	if err != nil {
		return 1, err
	}
	switch *format {
	case "json":
		if pids == nil {
			pids = []int{}
		}
		return 0, json.NewEncoder(os.Stdout).Encode(pids)
	case "table":
	default:
		return 2, fmt.Errorf("ps: invalid --format %q (table or json)", *format)
	}
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return 1, fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := -1
	for i, f := range strings.Fields(lines[0]) {
		if f == "PID" {
			col = i
		}
	}
	if col < 0 {
		return 1, fmt.Errorf("ps: no PID column in the output of ps %s", strings.Join(psArgs, " "))
	}
	in := map[string]bool{}
	for _, p := range pids {
		in[strconv.Itoa(p)] = true
	}
	fmt.Println(lines[0])
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > col && in[f[col]] {
			fmt.Println(l)
		}
	}
	return 0, nil
}

// updateCmd is runc's update: new resources from flags or from a
// resources JSON (-r FILE, or - for stdin).
func (a *app) updateCmd(args []string) (int, error) {
	fs := flags("update")
	file := fs.String("resources", "", "")
	fs.StringVar(file, "r", "", "")
	str := map[string]*string{}
	for _, n := range []string{"memory", "memory-reservation", "memory-swap", "kernel-memory", "kernel-memory-tcp",
		"cpu-shares", "cpu-quota", "cpu-period", "cpu-burst", "cpu-rt-period", "cpu-rt-runtime", "cpu-idle",
		"cpuset-cpus", "cpuset-mems", "pids-limit", "blkio-weight", "l3-cache-schema", "mem-bw-schema"} {
		str[n] = fs.String(n, "", "")
	}
	// runc's own name for it.
	fs.StringVar(str["cpu-shares"], "cpu-share", "", "")
	id, _, err := idArgs(fs, args, 1)
	if err != nil {
		return 2, err
	}
	var u specs.LinuxResources
	if *file != "" {
		var in io.Reader = os.Stdin
		if *file != "-" {
			f, err := os.Open(*file)
			if err != nil {
				return 1, fmt.Errorf("update: %w", err)
			}
			defer f.Close() // read only
			in = f
		}
		if err := json.NewDecoder(in).Decode(&u); err != nil {
			return 1, fmt.Errorf("update: parse resources %s: %w", *file, err)
		}
	}
	if err := resourcesFromFlags(&u, str); err != nil {
		return 2, fmt.Errorf("update: %w", err)
	}
	return 0, a.runtime().Update(id, &u)
}

func resourcesFromFlags(u *specs.LinuxResources, f map[string]*string) error {
	mem := func() *specs.LinuxMemory {
		if u.Memory == nil {
			u.Memory = &specs.LinuxMemory{}
		}
		return u.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if u.CPU == nil {
			u.CPU = &specs.LinuxCPU{}
		}
		return u.CPU
	}
	for name, p := range f {
		v := *p
		if v == "" {
			continue
		}
		var err error
		switch name {
		case "memory", "memory-reservation", "memory-swap", "kernel-memory", "kernel-memory-tcp":
			var n int64
			if n, err = parseBytes(v); err == nil {
				dst := map[string]**int64{"memory": &mem().Limit, "memory-reservation": &mem().Reservation,
					"memory-swap": &mem().Swap, "kernel-memory": &mem().Kernel, "kernel-memory-tcp": &mem().KernelTCP}[name]
				*dst = &n
			}
		case "cpu-shares", "cpu-period", "cpu-burst", "cpu-rt-period":
			var n uint64
			if n, err = strconv.ParseUint(v, 10, 64); err == nil {
				dst := map[string]**uint64{"cpu-shares": &cpu().Shares, "cpu-period": &cpu().Period,
					"cpu-burst": &cpu().Burst, "cpu-rt-period": &cpu().RealtimePeriod}[name]
				*dst = &n
			}
		case "cpu-quota", "cpu-rt-runtime", "cpu-idle", "pids-limit":
			var n int64
			if n, err = strconv.ParseInt(v, 10, 64); err == nil {
				switch name {
				case "cpu-quota":
					cpu().Quota = &n
				case "cpu-rt-runtime":
					cpu().RealtimeRuntime = &n
				case "cpu-idle":
					cpu().Idle = &n
				case "pids-limit":
					u.Pids = &specs.LinuxPids{Limit: &n}
				}
			}
		case "cpuset-cpus":
			cpu().Cpus = v
		case "cpuset-mems":
			cpu().Mems = v
		case "l3-cache-schema", "mem-bw-schema":
			err = errors.New("Intel RDT (resctrl) is not supported")
		case "blkio-weight":
			var n uint64
			if n, err = strconv.ParseUint(v, 10, 16); err == nil {
				w := uint16(n)
				u.BlockIO = &specs.LinuxBlockIO{Weight: &w}
			}
		}
		if err != nil {
			return fmt.Errorf("--%s %q: %w", name, v, err)
		}
	}
	return nil
}

// parseBytes reads 1024, 512k, 64m, 1g (binary units) or -1.
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	t := strings.ToLower(strings.TrimSuffix(strings.ToLower(s), "b"))
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult, t = 1<<10, t[:n-1]
		case 'm':
			mult, t = 1<<20, t[:n-1]
		case 'g':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a size")
	}
	if v < 0 {
		return -1, nil
	}
	return v * mult, nil
}
