package cri

import (
	"slices"
	"strings"
	"testing"

	mobycontainer "github.com/moby/moby/api/types/container"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestEngineNamesStayFileNames(t *testing.T) {
	short := "k8s_POD_web_default_uid_1"
	if engineName(short) != short {
		t.Errorf("a short name changed: %s", engineName(short))
	}
	long := "k8s_" + strings.Repeat("container-name-", 20) + "_pod_ns_uid_2"
	a, b := engineName(long), engineName(long+"x")
	if len(a) > 128 || a == b || !strings.HasPrefix(a, long[:100]) {
		t.Errorf("long names: %q %q", a, b)
	}
}

func TestPortBindingsSkipMappingsWithoutHostPort(t *testing.T) {
	pm, err := portBindings([]*runtimeapi.PortMapping{
		{ContainerPort: 80, HostPort: 8080},
		{ContainerPort: 53, HostPort: 5353, Protocol: runtimeapi.Protocol_UDP, HostIp: "127.0.0.1"},
		{ContainerPort: 9000}, // no host port: not published
	})
	if err != nil || len(pm) != 2 {
		t.Fatalf("%v %v", pm, err)
	}
	for p, bs := range pm {
		switch p.String() {
		case "80/tcp":
			if bs[0].HostPort != "8080" {
				t.Errorf("80/tcp: %+v", bs)
			}
		case "53/udp":
			if bs[0].HostPort != "5353" || bs[0].HostIP.String() != "127.0.0.1" {
				t.Errorf("53/udp: %+v", bs)
			}
		default:
			t.Errorf("unexpected %s", p)
		}
	}
	if _, err := portBindings([]*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: 1, HostIp: "nope"}}); err == nil {
		t.Error("a bad host IP was taken")
	}
}

func TestSecurityContextMapsToEngineOptions(t *testing.T) {
	var c mobycontainer.Config
	var hc mobycontainer.HostConfig
	sc := &runtimeapi.LinuxContainerSecurityContext{
		RunAsUser: &runtimeapi.Int64Value{Value: 1000}, RunAsGroup: &runtimeapi.Int64Value{Value: 50},
		Capabilities: &runtimeapi.Capability{AddCapabilities: []string{"NET_ADMIN"}, DropCapabilities: []string{"ALL"}},
		NoNewPrivs:   true, ReadonlyRootfs: true, SupplementalGroups: []int64{7},
		Seccomp:     &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/p.json"},
		MaskedPaths: []string{"/proc/kcore"},
	}
	if err := securityOf(sc, &c, &hc); err != nil {
		t.Fatal(err)
	}
	if c.User != "1000:50" || !hc.ReadonlyRootfs || !slices.Equal(hc.CapAdd, []string{"NET_ADMIN"}) || !slices.Equal(hc.GroupAdd, []string{"7"}) ||
		!slices.Contains(hc.SecurityOpt, "no-new-privileges") || !slices.Contains(hc.SecurityOpt, "seccomp=/p.json") ||
		!slices.Equal(hc.MaskedPaths, []string{"/proc/kcore"}) {
		t.Errorf("mapped: %+v %+v", c, hc)
	}
	// Nothing asked: CRI's default is no seccomp profile.
	hc = mobycontainer.HostConfig{}
	if err := securityOf(nil, &c, &hc); err != nil || !slices.Equal(hc.SecurityOpt, []string{"seccomp=unconfined"}) {
		t.Errorf("no security context: %+v %v", hc, err)
	}
	bad := &runtimeapi.LinuxContainerSecurityContext{RunAsGroup: &runtimeapi.Int64Value{Value: 5}}
	if err := securityOf(bad, &mobycontainer.Config{}, &mobycontainer.HostConfig{}); err == nil {
		t.Error("run_as_group without a user was taken")
	}
	aa := &runtimeapi.LinuxContainerSecurityContext{Apparmor: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "x"}}
	if err := securityOf(aa, &mobycontainer.Config{}, &mobycontainer.HostConfig{}); err == nil {
		t.Error("an AppArmor profile was taken on a host without AppArmor")
	}
}

func TestStatesTimesLabelsAndImages(t *testing.T) {
	for st, want := range map[string]runtimeapi.ContainerState{"created": runtimeapi.ContainerState_CONTAINER_CREATED,
		"running": runtimeapi.ContainerState_CONTAINER_RUNNING, "paused": runtimeapi.ContainerState_CONTAINER_RUNNING,
		"exited": runtimeapi.ContainerState_CONTAINER_EXITED, "removing": runtimeapi.ContainerState_CONTAINER_UNKNOWN} {
		if got := containerState(st); got != want {
			t.Errorf("%s: %s, want %s", st, got, want)
		}
	}
	if stamp("0001-01-01T00:00:00Z") != 0 || stamp("2026-12-01T10:00:00.5Z") == 0 || stamp("junk") != 0 {
		t.Error("stamps")
	}
	l := map[string]string{"app": "web", labelKind: "sandbox", labelAnnotations: `{"a":"b"}`}
	if u := userLabels(l); len(u) != 1 || u["app"] != "web" || annotationsOf(l)["a"] != "b" {
		t.Errorf("labels %v, annotations %v", userLabels(l), annotationsOf(l))
	}
}

func TestPodUserNamespaceMaps(t *testing.T) {
	m := func(c, h, l uint32) []*runtimeapi.IDMapping {
		return []*runtimeapi.IDMapping{{ContainerId: c, HostId: h, Length: l}}
	}
	if r, err := idMapOf(nil); r != nil || err != nil {
		t.Errorf("no user namespace: %v %v", r, err)
	}
	if r, err := idMapOf(&runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE}); r != nil || err != nil {
		t.Errorf("NODE: %v %v", r, err)
	}
	r, err := idMapOf(&runtimeapi.UserNamespace{Uids: m(0, 65536, 65536), Gids: m(0, 65536, 65536)})
	if err != nil || r == nil || r.Start != 65536 || r.Size != 65536 {
		t.Errorf("POD: %v %v", r, err)
	}
	for name, u := range map[string]*runtimeapi.UserNamespace{
		"CONTAINER":        {Mode: runtimeapi.NamespaceMode_CONTAINER, Uids: m(0, 1, 1), Gids: m(0, 1, 1)},
		"POD without maps": {},
		"from ID 1":        {Uids: m(1, 65536, 65536), Gids: m(1, 65536, 65536)},
		"groups elsewhere": {Uids: m(0, 65536, 65536), Gids: m(0, 131072, 65536)},
		"two ranges":       {Uids: append(m(0, 65536, 10), m(10, 70000, 10)...), Gids: m(0, 65536, 20)},
		"past the last ID": {Uids: m(0, 1<<32-10, 65536), Gids: m(0, 1<<32-10, 65536)},
		"an empty range":   {Uids: m(0, 65536, 0), Gids: m(0, 65536, 0)},
	} {
		if r, err := idMapOf(u); err == nil {
			t.Errorf("%s: accepted as %v", name, r)
		}
	}
}
