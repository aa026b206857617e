package runtime

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestPlanNewNamespacesAreCloneFlagsExceptCgroupAndTime(t *testing.T) {
	p, err := planNamespaces(&specs.Linux{Namespaces: []specs.LinuxNamespace{
		{Type: "pid"}, {Type: "mount"}, {Type: "network"}, {Type: "cgroup"}, {Type: "time"}, {Type: "user"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := uintptr(unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWNET | unix.CLONE_NEWUSER)
	if p.cloneFlags != want || !p.newCgroupNS || !p.newTimeNS || p.needsConstructor() {
		t.Fatalf("plan = %+v", p)
	}
}

func TestPlanJoinedNetIsParentsJoinedMountIsChilds(t *testing.T) {
	p, err := planNamespaces(&specs.Linux{Namespaces: []specs.LinuxNamespace{
		{Type: "network", Path: "/proc/1/ns/net"}, {Type: "mount", Path: "/proc/1/ns/mnt"}, {Type: "pid"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.parentJoins) != 1 || p.parentJoins[0].Type != "net" || len(p.childJoins) != 1 || p.childJoins[0].Type != "mnt" {
		t.Fatalf("plan = %+v", p)
	}
	if p.cloneFlags != unix.CLONE_NEWPID || p.fork {
		t.Fatalf("plan = %+v", p)
	}
}

func TestPlanJoinedUserMakesTheConstructorDoEverything(t *testing.T) {
	p, err := planNamespaces(&specs.Linux{Namespaces: []specs.LinuxNamespace{
		{Type: "user", Path: "/proc/9/ns/user"}, {Type: "mount"}, {Type: "pid"}, {Type: "uts", Path: "/proc/9/ns/uts"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if p.cloneFlags != 0 || p.unshare != unix.CLONE_NEWNS|unix.CLONE_NEWPID || !p.fork {
		t.Fatalf("plan = %+v", p)
	}
	if len(p.childJoins) != 2 || p.childJoins[0].Type != "user" || p.childJoins[1].Type != "uts" {
		t.Fatalf("joins = %+v", p.childJoins)
	}
}

func TestPlanRejectsMountJoinWithNewUserNamespace(t *testing.T) {
	_, err := planNamespaces(&specs.Linux{Namespaces: []specs.LinuxNamespace{
		{Type: "user"}, {Type: "mount", Path: "/proc/1/ns/mnt"},
	}})
	if err == nil {
		t.Fatal("accepted")
	}
}

func TestMergeResourcesReplacesOnlyWhatIsSet(t *testing.T) {
	lim, swap, shares := int64(10), int64(20), uint64(512)
	cur := specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &lim, Swap: &swap}}
	newLim := int64(30)
	got := MergeResources(cur, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &newLim}, CPU: &specs.LinuxCPU{Shares: &shares}})
	if *got.Memory.Limit != 30 || *got.Memory.Swap != 20 || *got.CPU.Shares != 512 {
		t.Fatalf("merged = %+v %+v", got.Memory, got.CPU)
	}
	if *cur.Memory.Limit != 10 {
		t.Fatal("the current resources were modified")
	}
}
