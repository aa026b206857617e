package rootfs

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/sys"
)

func TestMountAtPerformsWhatTheSnapshotDescribes(t *testing.T) {
	r := &sys.Recorder{}
	ov := specs.Mount{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/l2:/l1", "upperdir=/u", "workdir=/w", "index=off", "volatile"}}
	if err := MountAt(r, ov, "/merged"); err != nil {
		t.Fatal(err)
	}
	if c := r.Calls[0]; c.Type != "overlay" || c.Target != "/merged" || c.Flags != 0 || c.Data != "lowerdir=/l2:/l1,upperdir=/u,workdir=/w,index=off,volatile" {
		t.Errorf("overlay: %+v", c)
	}
	r = &sys.Recorder{}
	if err := MountAt(r, specs.Mount{Type: "bind", Source: "/layer", Options: []string{"rbind", "ro", "nodev"}}, "/img"); err != nil {
		t.Fatal(err)
	}
	if len(r.Calls) != 2 || r.Calls[0].Flags != unix.MS_BIND|unix.MS_REC || r.Calls[1].Flags != unix.MS_RDONLY|unix.MS_NODEV|unix.MS_BIND|unix.MS_REMOUNT {
		t.Errorf("a read-only bind is a bind and a remount: %+v", r.Calls)
	}
}
