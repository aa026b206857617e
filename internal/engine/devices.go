package engine

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	mobycontainer "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/cdi"
	"github.com/berth-project/berth/internal/container"
)

// IsCDIDevice reports whether a --device value names a CDI device
// (vendor.com/class=name) rather than a host path; the docker CLI sends
// those as a device request of driver "cdi", and so does berth's.
func IsCDIDevice(s string) bool { return cdi.IsName(s) }

// nvidiaCapabilities are what the GPU driver offers (Docker's names).
var nvidiaCapabilities = []string{"gpu", "nvidia", "compute", "compat32", "graphics", "utility", "video", "display"}

// ParseGPUs reads --gpus as Docker does: "all", a count, or a CSV of
// count=, device= (indexes or UUIDs), capabilities=, driver= and
// options=; a request names the gpu capability unless it gives others.
func ParseGPUs(s string) (mobycontainer.DeviceRequest, error) {
	r := mobycontainer.DeviceRequest{}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return r, invalid(fmt.Errorf("--gpus %q: %w", s, err))
	}
	seen := map[string]bool{}
	for _, f := range fields {
		k, v, hasValue := strings.Cut(f, "=")
		if !hasValue {
			k, v = "count", f
		}
		if seen[k] {
			return r, invalid(fmt.Errorf("--gpus %q: %s given twice", s, k))
		}
		seen[k] = true
		switch k {
		case "count":
			if v == "all" {
				r.Count = -1
			} else if r.Count, err = strconv.Atoi(v); err != nil || r.Count < 1 {
				return r, invalid(fmt.Errorf("--gpus %q: count %q: want all or a number of GPUs", s, v))
			}
		case "device":
			r.DeviceIDs = strings.Split(v, ",")
		case "capabilities":
			r.Capabilities = [][]string{strings.Split(v, ",")}
		case "driver":
			r.Driver = v
		case "options":
			r.Options = map[string]string{}
			for _, o := range strings.Split(v, ",") {
				ok, ov, _ := strings.Cut(o, "=")
				r.Options[ok] = ov
			}
		default:
			return r, invalid(fmt.Errorf("--gpus %q: unexpected key %q (count, device, capabilities, driver, options)", s, k))
		}
	}
	if r.Count != 0 && len(r.DeviceIDs) > 0 {
		return r, invalid(errors.New("cannot set both Count and DeviceIDs on device request"))
	}
	if r.Count == 0 && len(r.DeviceIDs) == 0 {
		r.Count = 1 // "driver=nvidia" alone: one GPU, as Docker's
	}
	if len(r.Capabilities) == 0 {
		r.Capabilities = [][]string{{"gpu"}}
	}
	return r, nil
}

// cdiNamesOf are the CDI devices a device request asks for: its IDs for
// driver "cdi", NVIDIA's GPUs for a request the GPU driver serves.
func cdiNamesOf(r mobycontainer.DeviceRequest) ([]string, error) {
	if r.Driver == "cdi" {
		for _, id := range r.DeviceIDs {
			if !cdi.IsName(id) {
				return nil, invalid(fmt.Errorf("CDI device %q: want VENDOR/CLASS=NAME", id))
			}
		}
		return r.DeviceIDs, nil
	}
	if r.Driver == "" || r.Driver == "nvidia" {
		for _, and := range r.Capabilities {
			if len(and) > 0 && !slices.ContainsFunc(and, func(c string) bool { return !slices.Contains(nvidiaCapabilities, c) }) {
				return cdi.GPUNames(r.Count, r.DeviceIDs), nil
			}
		}
	}
	return nil, invalid(fmt.Errorf("could not select device driver %q with capabilities: %v", r.Driver, r.Capabilities))
}

// deviceRequestsOf records a create's device requests and the CDI
// devices they name; CDI names in Devices count too, as an API client
// may send them there.
func deviceRequestsOf(hc mobycontainer.HostConfig, h *container.Host) error {
	for _, d := range hc.Devices {
		if cdi.IsName(d.PathOnHost) {
			h.CDIDevices = append(h.CDIDevices, d.PathOnHost)
		}
	}
	for _, r := range hc.DeviceRequests {
		names, err := cdiNamesOf(r)
		if err != nil {
			return err
		}
		h.CDIDevices = append(h.CDIDevices, names...)
		h.DeviceRequests = append(h.DeviceRequests, container.DeviceRequest{Driver: r.Driver, Count: r.Count,
			DeviceIDs: r.DeviceIDs, Capabilities: r.Capabilities, Options: r.Options})
	}
	return nil
}

// cdiRegistry resolves a container's CDI devices against the specs in
// dirs (none: the default ones); the NVIDIA spec berth makes lives in
// the run root.
func (e *Engine) cdiRegistry(dirs []string) *cdi.Registry {
	if len(dirs) == 0 {
		dirs = cdi.DefaultSpecDirs
	}
	return &cdi.Registry{Dirs: dirs, Generated: filepath.Join(e.paths.RunRoot, "cdi"), Host: cdi.Host{
		Libraries: func() ([]byte, error) { return exec.Command("ldconfig", "-p").Output() },
		LookPath:  exec.LookPath,
	}}
}

// deviceRequestsFor is inspect's HostConfig.DeviceRequests.
func deviceRequestsFor(h container.Host) []mobycontainer.DeviceRequest {
	var out []mobycontainer.DeviceRequest // null without any, as Docker's
	for _, r := range h.DeviceRequests {
		out = append(out, mobycontainer.DeviceRequest{Driver: r.Driver, Count: r.Count, DeviceIDs: r.DeviceIDs, Capabilities: r.Capabilities, Options: r.Options})
	}
	return out
}
