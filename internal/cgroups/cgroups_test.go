package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCleanPathCannotClimbOutOfTheHierarchy(t *testing.T) {
	cases := map[[2]string]string{
		{"", "c1"}:             "/berth/c1",
		{"/a/b", "c1"}:         "/a/b",
		{"/a/../../etc", "c1"}: "/etc",
		{"rel/x", "c1"}:        "/berth/rel/x",
		{"../../escape", "c1"}: "/berth/escape",
	}
	for in, want := range cases {
		if got := CleanPath(in[0], in[1]); got != want {
			t.Errorf("CleanPath(%q) = %q, want %q", in[0], got, want)
		}
	}
}

// The same checks run against each implementation, on fake hierarchies
// made of plain directories.
func TestManagersCreateJoinDestroy(t *testing.T) {
	for _, mode := range []Mode{ModeV1, ModeHybrid, ModeV2} {
		t.Run(mode.String(), func(t *testing.T) {
			base := t.TempDir()
			h := &Host{Mode: mode, V1: map[string]string{}}
			if mode != ModeV2 {
				for _, c := range []string{"memory", "pids"} {
					h.V1[c] = filepath.Join(base, c)
					os.MkdirAll(h.V1[c], 0o755)
				}
			}
			if mode != ModeV1 {
				h.Unified = filepath.Join(base, "unified")
				os.MkdirAll(h.Unified, 0o755)
			}
			os.MkdirAll(filepath.Join(base, "pids", "shared"), 0o755)
			m := New(h, State{Path: "/grp/c1"})
			if got := Missing(h, "/grp/c1"); len(got) != 2 || got[0] != "/grp" {
				t.Fatalf("Missing before Create = %v", got)
			}
			if err := m.Create(); err != nil {
				t.Fatal(err)
			}
			if got := m.Created(); len(got) != 2 || got[0] != "/grp" || got[1] != "/grp/c1" {
				t.Fatalf("Created = %v", got)
			}
			fd, born, err := m.CloneFD()
			if err != nil || born != (mode != ModeV1) {
				t.Fatalf("CloneFD = %v, %v: want born into cgroup2 exactly when one exists", born, err)
			}
			if born {
				unix.Close(fd)
			}
			tasks := m.SelfJoinFiles()
			if mode == ModeV2 && len(tasks) != 0 || mode != ModeV2 && len(tasks) != 2 {
				t.Fatalf("SelfJoinFiles = %v", tasks)
			}
			for _, f := range tasks {
				if filepath.Base(f) != "tasks" || strings.Contains(f, "unified") {
					t.Fatalf("self-join file %s", f)
				}
			}
			if err := m.Join(1234); err != nil {
				t.Fatal(err)
			}
			pids, err := m.Pids()
			if err != nil || len(pids) != 1 || pids[0] != 1234 {
				t.Fatalf("Pids = %v, %v", pids, err)
			}
			// Plain directories holding a file cannot be rmdir'ed; clear them
			// as the kernel would when the task leaves.
			for _, d := range m.Paths() {
				os.Remove(filepath.Join(d, "cgroup.procs"))
			}
			rebuilt := New(h, State{Path: "/grp/c1", Created: m.Created()})
			if err := rebuilt.Destroy(); err != nil {
				t.Fatal(err)
			}
			for _, d := range m.Paths() {
				if _, err := os.Stat(filepath.Dir(d)); !os.IsNotExist(err) {
					t.Fatalf("parent %s left behind", filepath.Dir(d))
				}
			}
			// The default parent stays, as Docker's /docker does.
			d := New(h, State{Path: CleanPath("", "c2")})
			if err := d.Create(); err != nil {
				t.Fatal(err)
			}
			if err := New(h, State{Path: CleanPath("", "c2"), Created: d.Created()}).Destroy(); err != nil {
				t.Fatal(err)
			}
			for _, dir := range d.Paths() {
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Fatalf("%s left behind", dir)
				}
				if _, err := os.Stat(filepath.Dir(dir)); err != nil {
					t.Fatalf("default parent removed: %v", err)
				}
			}
		})
	}
}

func TestDetectHostHere(t *testing.T) {
	h, err := DetectHost()
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	if h.Mode == ModeV2 && len(h.V1) != 0 {
		t.Fatal("v2 host with v1 hierarchies")
	}
}
