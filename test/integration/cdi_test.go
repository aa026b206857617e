package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A vendor's CDI spec, and a stand-in for NVIDIA's: the devices that
// --device NAME and --gpus resolve to on a machine without a GPU.
const (
	exampleCDISpec = `{"cdiVersion": "0.6.0", "kind": "example.com/device",
 "devices": [{"name": "null", "containerEdits": {"deviceNodes": [{"path": "/dev/example-null", "hostPath": "/dev/null"}]}}],
 "containerEdits": {"env": ["EXAMPLE=1"], "mounts": [{"hostPath": "HOSTFILE", "containerPath": "/opt/example", "options": ["ro", "bind"]}]}}`
	fakeGPUSpec = `{"cdiVersion": "0.6.0", "kind": "nvidia.com/gpu",
 "devices": [{"name": "0", "containerEdits": {"env": ["GPUS=0"]}}, {"name": "all", "containerEdits": {"env": ["GPUS=all"]}}]}`
)

// TestEngineCDIDevices: --device VENDOR/CLASS=NAME and --gpus go
// through the Container Device Interface: the spec's device nodes (and
// their cgroup rule), environment and mounts reach the container, from
// the CLI and through the API; a device no spec names fails the create
// and leaves nothing.
func TestEngineCDIDevices(t *testing.T) {
	root := engineWithBusybox(t)
	specDir, hostFile := filepath.Join(root, "cdi"), filepath.Join(root, "host-file")
	if err := os.MkdirAll(specDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hostFile, []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(specDir, "example.json"), []byte(strings.ReplaceAll(exampleCDISpec, "HOSTFILE", hostFile)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(specDir, "gpu.json"), []byte(fakeGPUSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	cdi := []string{"--cdi-spec-dir", specDir}
	got := mustEngine(t, root, append(cdi, "run", "--rm", "--device", "example.com/device=null", "busybox:it",
		"sh", "-c", "echo x > /dev/example-null && echo $EXAMPLE && cat /opt/example")...)
	if got != "1\nfrom the host\n" {
		t.Fatalf("a CDI device: %q", got)
	}
	mustEngine(t, root, append(cdi, "create", "--name", "gpu", "--gpus", "all", "busybox:it", "sh", "-c", "echo $GPUS")...)
	if out := mustEngine(t, root, "start", "-a", "gpu"); out != "all\n" {
		t.Fatalf("--gpus all: %q", out)
	}
	if out := mustEngine(t, root, "inspect", "-f", "{{json .HostConfig.DeviceRequests}}", "gpu"); out != `[{"Capabilities":[["gpu"]],"Count":-1,"DeviceIDs":null,"Driver":"","Options":null}]`+"\n" {
		t.Fatalf("inspect's DeviceRequests: %s", out)
	}
	if out := mustEngine(t, root, append(cdi, "run", "--rm", "--gpus", "1", "busybox:it", "sh", "-c", "echo $GPUS")...); out != "0\n" {
		t.Fatalf("--gpus 1: %q", out)
	}
	// Refused at create, nothing made: an unknown device, no GPU at all
	// (an empty spec directory, on a host without NVIDIA's nodes).
	if r := engine(t, root, append(cdi, "run", "--name", "bad", "--device", "example.com/device=nope", "busybox:it", "true")...); r.code != 125 || !strings.Contains(r.stderr, "unresolvable CDI devices example.com/device=nope") {
		t.Fatalf("an unknown CDI device: %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat("/dev/nvidia0"); err != nil {
		if r := engine(t, root, "--cdi-spec-dir", t.TempDir(), "run", "--name", "bad", "--gpus", "all", "busybox:it", "true"); r.code != 125 || !strings.Contains(r.stderr, `could not select device driver "" with capabilities: [[gpu]]`) {
			t.Fatalf("--gpus without a GPU: %d %q", r.code, r.stderr)
		}
	}
	if r := engine(t, root, "inspect", "bad"); r.code == 0 {
		t.Fatal("a refused create made its container")
	}
	// The docker CLI sends both as device requests; the server reads
	// its specs from the same place.
	requireDockerCLI(t)
	sock, _ := apiServer(t, root, cdi...)
	if out := mustDocker(t, sock, "run", "--rm", "--device", "example.com/device=null", "--gpus", "all", "busybox:it", "sh", "-c", "echo $EXAMPLE $GPUS; ls /dev/example-null"); out != "1 all\n/dev/example-null\n" {
		t.Fatalf("through the API: %q", out)
	}
	mustEngine(t, root, "rm", "gpu")
}
