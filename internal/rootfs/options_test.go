package rootfs

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/sys"
)

func TestParseOptionsSplitsFlagsPropagationAndData(t *testing.T) {
	o := parseOptions([]string{"rbind", "ro", "nosuid", "rslave", "mode=755", "size=65536k", "defaults"})
	if !o.bind || !o.recursive {
		t.Fatal("rbind not recognised")
	}
	if o.flags != unix.MS_RDONLY|unix.MS_NOSUID {
		t.Fatalf("flags = %#x", o.flags)
	}
	if len(o.propagation) != 1 || o.propagation[0] != unix.MS_SLAVE|unix.MS_REC {
		t.Fatalf("propagation = %v", o.propagation)
	}
	if joinData(o.data) != "mode=755,size=65536k" {
		t.Fatalf("data = %q", joinData(o.data))
	}
}

func TestLaterOptionWins(t *testing.T) {
	o := parseOptions([]string{"ro", "rw", "nosuid", "suid", "noexec"})
	if o.flags != unix.MS_NOEXEC {
		t.Fatalf("flags = %#x, want only noexec", o.flags)
	}
}

func TestBindWithFlagsRemountsAndPropagates(t *testing.T) {
	rec := &sys.Recorder{}
	st := &Setup{Sys: rec, reopen: sameTarget}
	if err := st.bindOnto("/src", "/dst", "/dst", unix.MS_RDONLY|unix.MS_NODEV, true); err != nil {
		t.Fatal(err)
	}
	if err := st.propagate("/dst", parseOptions([]string{"rprivate"})); err != nil {
		t.Fatal(err)
	}
	want := []sys.Call{
		{Op: "mount", Source: "/src", Target: "/dst", Flags: unix.MS_BIND | unix.MS_REC},
		{Op: "mount", Target: "/dst", Flags: unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NODEV},
		{Op: "mount", Target: "/dst", Flags: unix.MS_PRIVATE | unix.MS_REC},
	}
	if len(rec.Calls) != len(want) {
		t.Fatalf("calls = %+v", rec.Calls)
	}
	for i := range want {
		if rec.Calls[i] != want[i] {
			t.Errorf("call %d = %+v, want %+v", i, rec.Calls[i], want[i])
		}
	}
}

func TestPlainBindNeedsNoRemount(t *testing.T) {
	rec := &sys.Recorder{}
	st := &Setup{Sys: rec, reopen: sameTarget}
	st.bindOnto("/src", "/dst", "/dst", 0, false)
	if len(rec.Calls) != 1 || rec.Calls[0].Flags != unix.MS_BIND {
		t.Fatalf("calls = %+v", rec.Calls)
	}
}

func TestUnescapeOctal(t *testing.T) {
	if got := unescapeOctal(`/a\040b`); got != "/a b" {
		t.Fatalf("unescapeOctal = %q", got)
	}
}

func sameTarget(dest string) (string, func(), error) { return dest, func() {}, nil }
