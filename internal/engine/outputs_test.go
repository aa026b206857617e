package engine

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"text/template"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/container"
)

func testContainer() *container.Container {
	return &container.Container{
		ID: strings.Repeat("ab", 32), Name: "web", Created: time.Unix(1700000000, 0).UTC(),
		Image: "sha256:" + strings.Repeat("cd", 32), ImageName: "docker.io/library/busybox:latest",
		Config: container.Config{Hostname: "web", Cmd: []string{"httpd", "-f"}, Entrypoint: []string{"/bin/sh", "-c"},
			Labels: map[string]string{"app": "web"}, ExposedPorts: map[string]struct{}{"80/tcp": {}}},
		Host: container.Host{NetworkMode: "bridge", Publish: []string{"8080:80", "127.0.0.1::53/udp"},
			Restart: container.RestartPolicy{Name: "on-failure", MaxRetries: 3}, Memory: 64 << 20,
			Ulimits: []string{"nofile=1024:2048"}, Devices: []string{"/dev/fuse"}},
		State: container.State{Status: container.Exited, ExitCode: 3, FinishedAt: time.Now().Add(-time.Minute)},
	}
}

// TestHostConfigPortBindingsIsDockersMap guards the template that
// failed when PortBindings was a list.
func TestHostConfigPortBindingsIsDockersMap(t *testing.T) {
	hc := hostConfigOf(testContainer())
	b, err := json.Marshal(hc)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	tmpl := template.Must(template.New("").Parse(`{{range $p, $conf := .PortBindings}}{{$p}}={{(index $conf 0).HostIp}}:{{(index $conf 0).HostPort}} {{end}}`))
	var out bytes.Buffer
	if err := tmpl.Execute(&out, v); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "53/udp=127.0.0.1: 80/tcp=:8080 "; got != want {
		t.Errorf("PortBindings through the template: %q, want %q", got, want)
	}
	if hc.RestartPolicy.Name != "on-failure" || hc.RestartPolicy.MaximumRetryCount != 3 || hc.Memory != 64<<20 {
		t.Errorf("restart policy or memory lost: %+v", hc)
	}
	if len(hc.Ulimits) != 1 || hc.Ulimits[0].Name != "nofile" || hc.Ulimits[0].Hard != 2048 {
		t.Errorf("ulimits: %+v", hc.Ulimits)
	}
	if len(hc.Devices) != 1 || hc.Devices[0].PathOnHost != "/dev/fuse" || hc.Devices[0].CgroupPermissions != "rwm" {
		t.Errorf("devices: %+v", hc.Devices)
	}
}

// TestInspectHasDockersKeys checks the keys Docker's inspect always
// emits at the top, in State, Config and HostConfig.
func TestInspectHasDockersKeys(t *testing.T) {
	c := testContainer()
	in := &ContainerJSON{InspectResponse: mobycontainer.InspectResponse{ID: c.ID, State: stateOf(c), Config: configOf(c), HostConfig: hostConfigOf(c)}}
	in.NetworkSettings = &NetworkSettings{}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"":                {"Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath", "HostnamePath", "HostsPath", "LogPath", "Name", "RestartCount", "Driver", "Platform", "MountLabel", "ProcessLabel", "AppArmorProfile", "ExecIDs", "HostConfig", "Mounts", "Config", "NetworkSettings"},
		"State":           {"Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid", "ExitCode", "Error", "StartedAt", "FinishedAt"},
		"Config":          {"Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "Labels"},
		"HostConfig":      {"Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy", "AutoRemove", "CapAdd", "CapDrop", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "IpcMode", "PidMode", "Privileged", "PublishAllPorts", "ReadonlyRootfs", "SecurityOpt", "UTSMode", "UsernsMode", "ShmSize", "Memory", "NanoCpus", "CpuShares", "MemorySwap", "PidsLimit", "Ulimits", "Devices", "MaskedPaths", "ReadonlyPaths"},
		"NetworkSettings": {"Ports", "Networks", "IPAddress", "Gateway", "MacAddress", "IPPrefixLen", "EndpointID", "Bridge", "SandboxID", "SandboxKey"},
	}
	for section, keys := range want {
		m := v
		if section != "" {
			m, _ = v[section].(map[string]any)
		}
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("inspect %s lacks %s", section, k)
			}
		}
	}
	if v["State"].(map[string]any)["Status"] != "exited" {
		t.Errorf("State.Status: %v", v["State"])
	}
}

func TestStatusText(t *testing.T) {
	now := time.Now()
	c := testContainer()
	if got := statusText(c, statusOf(c), now); !strings.HasPrefix(got, "Exited (3) ") || !strings.HasSuffix(got, " ago") {
		t.Errorf("exited: %q", got)
	}
	c.State = container.State{Status: container.Running, Paused: true, StartedAt: now.Add(-2 * time.Hour)}
	if st := statusOf(c); st != mobycontainer.StatePaused {
		t.Errorf("paused: %s", st)
	}
	if got := statusText(c, statusOf(c), now); got != "Up 2 hours (Paused)" {
		t.Errorf("paused: %q", got)
	}
	c.State = container.State{Status: container.Created}
	if got := statusText(c, statusOf(c), now); got != "Created" {
		t.Errorf("created: %q", got)
	}
}

func TestPortFilterMatchesRangesAndProtocols(t *testing.T) {
	ports := []mobycontainer.PortSummary{{PrivatePort: 80, PublicPort: 8080, Type: "tcp"}, {PrivatePort: 53, PublicPort: 5353, Type: "udp"}}
	for v, want := range map[string]bool{"8080": true, "8080/tcp": true, "8080/udp": false, "8000-8100": true, "5353/udp": true, "80": false} {
		if got := portMatches(ports, v, true); got != want {
			t.Errorf("publish=%s: %v, want %v", v, got, want)
		}
	}
	if !portMatches(ports, "80/tcp", false) {
		t.Error("expose=80/tcp should match the private side")
	}
}
