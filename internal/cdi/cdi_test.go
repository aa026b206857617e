package cdi

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestGPUNames(t *testing.T) {
	for _, c := range []struct {
		count int
		ids   []string
		want  []string
	}{
		{-1, nil, []string{"nvidia.com/gpu=all"}},
		{2, nil, []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1"}},
		{0, []string{"1", "GPU-abc"}, []string{"nvidia.com/gpu=1", "nvidia.com/gpu=GPU-abc"}},
	} {
		if got := GPUNames(c.count, c.ids); !slices.Equal(got, c.want) {
			t.Errorf("GPUNames(%d, %v) = %v, want %v", c.count, c.ids, got, c.want)
		}
	}
	if !IsName("nvidia.com/gpu=all") || IsName("/dev/null") || IsName("nvidia.com/gpu") {
		t.Error("IsName tells CDI names from paths wrongly")
	}
}

func emptySpec() *specs.Spec {
	return &specs.Spec{Process: &specs.Process{Env: []string{"PATH=/bin"}}, Linux: &specs.Linux{Resources: &specs.LinuxResources{}}}
}

// A vendor's spec, as a JSON file in a spec directory.
const vendorSpec = `{"cdiVersion": "0.6.0", "kind": "example.com/device",
 "devices": [{"name": "null", "containerEdits": {"deviceNodes": [{"path": "/dev/example-null", "hostPath": "/dev/null"}]}}],
 "containerEdits": {"env": ["EXAMPLE=1"], "mounts": [{"hostPath": "/etc/hostname", "containerPath": "/opt/example", "options": ["ro", "bind"]}]}}`

func TestInjectAppliesAVendorsSpec(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "example.json"), []byte(vendorSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Registry{Dirs: []string{dir}}
	s := emptySpec()
	if err := r.Inject(s, []string{"example.com/device=null"}); err != nil {
		t.Fatal(err)
	}
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/example-null" || s.Linux.Devices[0].Major != 1 || s.Linux.Devices[0].Minor != 3 {
		t.Errorf("device nodes: %+v", s.Linux.Devices)
	}
	if rules := s.Linux.Resources.Devices; len(rules) != 1 || !rules[0].Allow || *rules[0].Major != 1 || *rules[0].Minor != 3 {
		t.Errorf("cgroup rules: %+v", rules)
	}
	if !slices.Contains(s.Process.Env, "EXAMPLE=1") || !slices.Contains(s.Process.Env, "PATH=/bin") {
		t.Errorf("env: %v", s.Process.Env)
	}
	if len(s.Mounts) != 1 || s.Mounts[0].Destination != "/opt/example" || s.Mounts[0].Source != "/etc/hostname" {
		t.Errorf("mounts: %+v", s.Mounts)
	}
	// A name no spec resolves: named in the error, the spec untouched.
	s = emptySpec()
	err := r.Inject(s, []string{"example.com/device=null", "example.com/device=nope"})
	if err == nil || !strings.Contains(err.Error(), "example.com/device=nope") || len(s.Linux.Devices) != 0 || len(s.Process.Env) != 1 {
		t.Errorf("an unknown device: %v, spec %+v", err, s.Linux.Devices)
	}
	if err := r.Check([]string{"not-a-name"}); err == nil {
		t.Error("a name that is no CDI name passed")
	}
}

// fakeNVIDIAHost is a /dev with two GPUs and the control node (links
// to real nodes, so that their numbers can be read), a loader cache
// with the driver's libraries among others, and nvidia-smi on PATH.
func fakeNVIDIAHost(t *testing.T) Host {
	dev := t.TempDir()
	for name, target := range map[string]string{"nvidia0": "/dev/null", "nvidia1": "/dev/zero", "nvidiactl": "/dev/full"} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			t.Fatal(err)
		}
	}
	ldconfig := "3 libs found in cache `/etc/ld.so.cache'\n" +
		"\tlibnvidia-ml.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1\n" +
		"\tlibnvidia-ml.so.1 (libc6) => /usr/lib/i386-linux-gnu/libnvidia-ml.so.1\n" +
		"\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1\n" +
		"\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n"
	return Host{DevDir: dev, Libraries: func() ([]byte, error) { return []byte(ldconfig), nil },
		LookPath: func(name string) (string, error) {
			if name == "nvidia-smi" {
				return "/usr/bin/nvidia-smi", nil
			}
			return "", errors.New("not found")
		}}
}

func TestNVIDIASpecFromTheDriver(t *testing.T) {
	h := fakeNVIDIAHost(t)
	spec, err := NVIDIASpec(h)
	if err != nil || spec == nil {
		t.Fatalf("NVIDIASpec: %v %v", spec, err)
	}
	var names []string
	for _, d := range spec.Devices {
		names = append(names, d.Name)
	}
	if spec.Kind != GPUKind || !slices.Equal(names, []string{"0", "1", "all"}) {
		t.Errorf("kind %s, devices %v", spec.Kind, names)
	}
	var mounts []string
	for _, m := range spec.ContainerEdits.Mounts {
		mounts = append(mounts, m.ContainerPath)
	}
	want := []string{"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/bin/nvidia-smi"}
	if !slices.Equal(mounts, want) {
		t.Errorf("mounts %v, want %v", mounts, want)
	}
	if n := spec.ContainerEdits.DeviceNodes; len(n) != 1 || n[0].Path != "/dev/nvidiactl" {
		t.Errorf("control nodes: %+v", n)
	}
	if spec, err := NVIDIASpec(Host{DevDir: t.TempDir()}); spec != nil || err != nil {
		t.Errorf("a host without GPUs: %v %v", spec, err)
	}
}

// A GPU request where no vendor spec names nvidia.com: berth writes its
// own from the driver, and injects from it; with no GPU either, the
// request fails in Docker's words.
func TestGPURequestsWithoutAVendorSpec(t *testing.T) {
	gen := filepath.Join(t.TempDir(), "generated")
	r := &Registry{Dirs: []string{t.TempDir()}, Generated: gen, Host: fakeNVIDIAHost(t)}
	s := emptySpec()
	if err := r.Inject(s, GPUNames(1, nil)); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, d := range s.Linux.Devices {
		paths = append(paths, d.Path)
	}
	if !slices.Equal(paths, []string{"/dev/nvidiactl", "/dev/nvidia0"}) && !slices.Equal(paths, []string{"/dev/nvidia0", "/dev/nvidiactl"}) {
		t.Errorf("device nodes of GPU 0: %v", paths)
	}
	if _, err := os.Stat(filepath.Join(gen, "berth-nvidia.json")); err != nil {
		t.Errorf("the generated spec: %v", err)
	}
	none := &Registry{Dirs: []string{t.TempDir()}, Generated: filepath.Join(t.TempDir(), "g"), Host: Host{DevDir: t.TempDir()}}
	if err := none.Check(GPUNames(-1, nil)); !errors.Is(err, ErrNoGPU) {
		t.Errorf("no GPU: %v, want %v", err, ErrNoGPU)
	}
	// A vendor's spec for nvidia.com wins over berth's.
	vendor := t.TempDir()
	own := `{"cdiVersion": "0.6.0", "kind": "nvidia.com/gpu", "devices": [{"name": "all", "containerEdits": {"env": ["FROM_VENDOR=1"]}}]}`
	if err := os.WriteFile(filepath.Join(vendor, "nvidia.json"), []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Dirs = []string{vendor}
	s = emptySpec()
	if err := r.Inject(s, GPUNames(-1, nil)); err != nil || !slices.Contains(s.Process.Env, "FROM_VENDOR=1") || len(s.Linux.Devices) != 0 {
		t.Errorf("with NVIDIA's own spec: %v, env %v, devices %+v", err, s.Process.Env, s.Linux.Devices)
	}
}
