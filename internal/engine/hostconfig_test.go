package engine

import (
	"errors"
	"slices"
	"strings"
	"testing"

	mobycontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	mobynetwork "github.com/moby/moby/api/types/network"
)

// TestHostConfigRoundTrip: what the CLI parses into Docker's types, the
// engine keeps, and inspect gives back the same values.
func TestHostConfigRoundTrip(t *testing.T) {
	ports, err := ParsePortBindings([]string{"8080:80", "127.0.0.1::53/udp", "9000-9001:7000-7001"})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := ParseDevice("/dev/null:/dev/mynull:rw")
	if err != nil {
		t.Fatal(err)
	}
	ul, err := ParseUlimit("nofile=1024:2048")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMount("type=tmpfs,target=/run,tmpfs-size=1m,tmpfs-mode=1777")
	if err != nil {
		t.Fatal(err)
	}
	pids := int64(50)
	in := mobycontainer.HostConfig{PortBindings: ports, NetworkMode: "bridge", Mounts: []mount.Mount{m},
		RestartPolicy: mobycontainer.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2},
		LogConfig:     mobycontainer.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "2k", "max-file": "3"}},
		Resources:     mobycontainer.Resources{Devices: []mobycontainer.DeviceMapping{dev}, Ulimits: []*mobycontainer.Ulimit{ul}, PidsLimit: &pids}}
	h, mounts, err := hostOf(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"127.0.0.1::53/udp", "9000:7000/tcp", "9001:7001/tcp", "8080:80/tcp"}; !slices.Equal(h.Publish, want) {
		t.Errorf("publish flags %v, want %v", h.Publish, want)
	}
	if len(mounts) != 1 || mounts[0].Type != "tmpfs" || !slices.Contains(mounts[0].Options, "size=1048576") || !slices.Contains(mounts[0].Options, "mode=1777") {
		t.Errorf("tmpfs mount: %+v", mounts)
	}
	if h.LogMaxSize != 2048 || h.LogMaxFiles != 3 || h.PidsLimit != 50 || h.Restart.MaxRetries != 2 {
		t.Errorf("host: %+v", h)
	}
	c := testContainer()
	c.Host = h
	out := hostConfigOf(c)
	if len(out.PortBindings) != 4 || len(out.Devices) != 1 || out.Devices[0] != dev || out.Ulimits[0].Hard != 2048 {
		t.Errorf("inspect after the round trip: ports %v devices %v ulimits %v", out.PortBindings, out.Devices, out.Ulimits)
	}
}

func TestHostConfigRefusesWhatBerthCannotDo(t *testing.T) {
	for name, hc := range map[string]mobycontainer.HostConfig{
		"log driver":   {LogConfig: mobycontainer.LogConfig{Type: "syslog"}},
		"log option":   {LogConfig: mobycontainer.LogConfig{Config: map[string]string{"tag": "x"}}},
		"restart":      {RestartPolicy: mobycontainer.RestartPolicy{Name: "sometimes"}},
		"swap < mem":   {Resources: mobycontainer.Resources{Memory: 64 << 20, MemorySwap: 32 << 20}},
		"mount type":   {Mounts: []mount.Mount{{Type: "npipe", Target: "/x"}}},
		"negative cpu": {Resources: mobycontainer.Resources{CPUShares: -1}},
	} {
		if _, _, err := hostOf(hc); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// The networking config's endpoints: NetworkMode's first, with its
// settings; a default mode with one endpoint is that network; a bad
// MAC is refused.
func TestEndpointsOf(t *testing.T) {
	mac := mobynetwork.HardwareAddr{2, 0x42, 1, 2, 3, 4}
	nc := mobynetwork.NetworkingConfig{EndpointsConfig: map[string]*mobynetwork.EndpointSettings{
		"front": {Aliases: []string{"web"}, MacAddress: mac}, "back": {Aliases: []string{"api"}}}}
	mode, primary, extras, err := endpointsOf("front", nc)
	if err != nil || mode != "front" || primary.Name != "front" || primary.MAC != "02:42:01:02:03:04" || len(extras) != 1 || extras[0].Name != "back" {
		t.Fatalf("two endpoints: %s %+v %+v %v", mode, primary, extras, err)
	}
	one := mobynetwork.NetworkingConfig{EndpointsConfig: map[string]*mobynetwork.EndpointSettings{"only": {}}}
	if mode, primary, extras, _ := endpointsOf("default", one); mode != "only" || primary.Name != "only" || len(extras) != 0 {
		t.Fatalf("default mode, one endpoint: %s %+v %+v", mode, primary, extras)
	}
	dflt := mobynetwork.NetworkingConfig{EndpointsConfig: map[string]*mobynetwork.EndpointSettings{"default": {}}}
	if mode, primary, extras, _ := endpointsOf("default", dflt); mode != "bridge" || primary.Name != "bridge" || len(extras) != 0 {
		t.Fatalf("the CLI's default endpoint: %s %+v %+v", mode, primary, extras)
	}
	if mode, _, _, _ := endpointsOf("", mobynetwork.NetworkingConfig{}); mode != "bridge" {
		t.Fatalf("no endpoints: %s", mode)
	}
	bad := mobynetwork.NetworkingConfig{EndpointsConfig: map[string]*mobynetwork.EndpointSettings{"x": {MacAddress: mobynetwork.HardwareAddr{1, 2}}}}
	if _, _, _, err := endpointsOf("x", bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a bad MAC: %v", err)
	}
}

func TestMergeEnvReplacesByName(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "A=1"}, []string{"A=2", "PATH=/usr/bin:/bin", "B=3"})
	if want := []string{"PATH=/usr/bin:/bin", "A=2", "B=3"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseGPUsAsDockers(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string // the CDI names
	}{
		{"all", []string{"nvidia.com/gpu=all"}},
		{"2", []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1"}},
		{`"device=1,GPU-3a"`, []string{"nvidia.com/gpu=1", "nvidia.com/gpu=GPU-3a"}},
		{"count=all,capabilities=compute,driver=nvidia", []string{"nvidia.com/gpu=all"}},
		{"driver=nvidia", []string{"nvidia.com/gpu=0"}},
	} {
		r, err := ParseGPUs(c.in)
		if err != nil {
			t.Errorf("--gpus %s: %v", c.in, err)
			continue
		}
		names, err := cdiNamesOf(r)
		if err != nil || !slices.Equal(names, c.want) {
			t.Errorf("--gpus %s: %v %v, want %v", c.in, names, err, c.want)
		}
	}
	for _, bad := range []string{"0", "count=x", `"count=1,device=0"`, "colour=red", "all,all"} {
		if _, err := ParseGPUs(bad); err == nil {
			t.Errorf("--gpus %s was taken", bad)
		}
	}
	if _, err := cdiNamesOf(mobycontainer.DeviceRequest{Driver: "fpga", Count: 1, Capabilities: [][]string{{"fpga"}}}); err == nil || !strings.Contains(err.Error(), `could not select device driver "fpga"`) {
		t.Errorf("a driver berth has not: %v", err)
	}
	if _, err := cdiNamesOf(mobycontainer.DeviceRequest{Driver: "cdi", DeviceIDs: []string{"/dev/null"}}); err == nil {
		t.Error("a path as a CDI name was taken")
	}
}
