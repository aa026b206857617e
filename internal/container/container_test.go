package container

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/caps"
)

func TestSpecDefaults(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nweb:x:33:33::/var/www:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nstaff:x:50:\n"), 0o644)
	c := &Container{ID: NewID(), Config: Config{Hostname: "box", Entrypoint: []string{"/init"}, Cmd: []string{"serve"},
		Env: []string{"A=1", "PATH=/custom"}, User: "web:staff", WorkingDir: "/srv"},
		Host: Host{CapAdd: []string{"sys_ptrace"}, CapDrop: []string{"NET_RAW"}, Memory: 64 << 20, NanoCPUs: 1.5e9}}
	s, err := Spec(c, SpecInput{Rootfs: root, HostNofile: 20000, HostCaps: caps.Known()})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Process.Args, []string{"/init", "serve"}) || s.Process.Cwd != "/srv" {
		t.Fatalf("args %v cwd %s", s.Process.Args, s.Process.Cwd)
	}
	if !slices.Equal(s.Process.Env, []string{"HOSTNAME=box", "A=1", "PATH=/custom"}) {
		t.Fatalf("env %v", s.Process.Env)
	}
	if s.Process.User.UID != 33 || s.Process.User.GID != 50 {
		t.Fatalf("user %+v", s.Process.User)
	}
	c0 := s.Process.Capabilities
	if !slices.Contains(c0.Bounding, "CAP_SYS_PTRACE") || slices.Contains(c0.Bounding, "CAP_NET_RAW") || len(c0.Inheritable) != 0 || len(c0.Bounding) != 14 {
		t.Fatalf("caps %v", c0.Bounding)
	}
	if s.Process.Rlimits[0].Hard != 20000 {
		t.Fatalf("NOFILE %d: not clamped to the host's hard limit", s.Process.Rlimits[0].Hard)
	}
	if s.Linux.Seccomp == nil || s.Linux.Resources.Memory == nil || *s.Linux.Resources.CPU.Quota != 150000 {
		t.Fatal("seccomp or resources missing")
	}
	if _, err := Spec(&Container{ID: c.ID, Config: Config{Cmd: []string{"x"}, User: "nobody"}}, SpecInput{Rootfs: root}); err == nil {
		t.Fatal("unknown user accepted")
	}
	if _, err := Spec(&Container{ID: c.ID}, SpecInput{Rootfs: root}); err == nil {
		t.Fatal("no command accepted")
	}
	priv := &Container{ID: c.ID, Config: Config{Cmd: []string{"x"}}, Host: Host{Privileged: true}}
	if s, _ := Spec(priv, SpecInput{Rootfs: root, HostCaps: []string{"CAP_SYS_ADMIN"}}); s.Linux.Seccomp != nil || len(s.Linux.MaskedPaths) != 0 || s.Process.Capabilities.Bounding[0] != "CAP_SYS_ADMIN" {
		t.Fatal("privileged container confined")
	}
	for _, opt := range []string{"seccomp=unconfined", "no-new-privileges"} {
		s, err := Spec(&Container{ID: c.ID, Config: Config{Cmd: []string{"x"}}, Host: Host{SecurityOpt: []string{opt}}}, SpecInput{Rootfs: root})
		if err != nil || (opt == "seccomp=unconfined") != (s.Linux.Seccomp == nil) || (opt == "no-new-privileges") != s.Process.NoNewPrivileges {
			t.Fatalf("--security-opt %s: %v", opt, err)
		}
	}
}

func TestNamesAreUniqueUnderConcurrentCreators(t *testing.T) {
	s := Store{Root: t.TempDir()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won, lost int
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Create(&Container{ID: NewID(), Name: "web"})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			} else if errors.Is(err, ErrNameUsed) {
				lost++
			}
		}()
	}
	wg.Wait()
	if won != 1 || lost != 15 {
		t.Fatalf("%d won, %d lost", won, lost)
	}
	c, err := s.Find("web")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Find(c.ID[:6]); got == nil || got.ID != c.ID {
		t.Fatal("ID prefix lookup")
	}
	if err := s.Remove(c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Find("web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after remove: %v", err)
	}
	if err := s.Create(&Container{ID: NewID(), Name: "bad name"}); err == nil {
		t.Fatal("invalid name accepted")
	}
}

func TestStoreKeepsRunStateApart(t *testing.T) {
	s := Store{Root: t.TempDir()}
	c := &Container{ID: NewID(), Name: "apart", Config: Config{Cmd: []string{"true"}}}
	if err := s.Create(c); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(s.path(c.ID))
	if _, err := s.Update(c.ID, func(c *Container) error {
		c.State = State{Status: Running, Pid: 42, MonitorPid: 43}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(s.path(c.ID)); string(after) != string(before) {
		t.Fatal("a state change rewrote container.json")
	}
	got, err := s.Load(c.ID)
	if err != nil || got.State.Pid != 42 || got.State.Status != Running || got.Config.Cmd[0] != "true" {
		t.Fatalf("load: %+v %v", got, err)
	}
	// A record from before state.json: its state is in container.json.
	os.Remove(s.statePath(c.ID))
	os.WriteFile(s.path(c.ID), []byte(`{"id":"`+c.ID+`","name":"apart","state":{"status":"exited","exitCode":3}}`), 0o600)
	if got, err := s.Load(c.ID); err != nil || got.State.ExitCode != 3 || got.State.Status != Exited {
		t.Fatalf("old record: %+v %v", got, err)
	}
	// state.json lost in a crash: the container shows as exited, unknown how.
	os.WriteFile(s.path(c.ID), before, 0o600)
	os.WriteFile(s.statePath(c.ID), nil, 0o600)
	if got, err := s.Load(c.ID); err != nil || got.State.Status != Exited || got.State.ExitCode != 255 {
		t.Fatalf("lost state: %+v %v", got, err)
	}
}

// What a creator killed mid-create leaves — a directory without
// container.json and the name that points at it, or a name alone (an
// older berth claimed the name first) — is collected: List drops it,
// and the name is free for the next create. A creation under way, which
// holds the lock, is left alone.
func TestDeadCreatorsLeftoversAreCollected(t *testing.T) {
	s := Store{Root: t.TempDir()}
	names := filepath.Join(s.Root, "containers", "names")
	dead, live, old := NewID(), NewID(), NewID()
	for _, id := range []string{dead, live} {
		if err := os.MkdirAll(s.Dir(id), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(names, 0o700)
	os.Symlink(dead, filepath.Join(names, "web"))
	os.Symlink(old, filepath.Join(names, "db"))
	os.Symlink(live, filepath.Join(names, "cache"))
	release, err := s.Lock(live)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	past := time.Now().Add(-time.Minute)
	for _, id := range []string{dead, live} {
		os.Chtimes(s.Dir(id), past, past)
	}
	if l, err := s.List(); err != nil || len(l) != 0 {
		t.Fatalf("List = %v, %v", l, err)
	}
	if _, err := os.Stat(s.Dir(dead)); !os.IsNotExist(err) {
		t.Fatal("the dead creator's directory is kept")
	}
	if _, err := os.Stat(s.Dir(live)); err != nil {
		t.Fatalf("a creation under way lost its directory: %v", err)
	}
	for _, name := range []string{"web", "db"} {
		if err := s.Create(&Container{ID: NewID(), Name: name}); err != nil {
			t.Fatalf("create %s after a dead creator: %v", name, err)
		}
	}
	if err := s.Create(&Container{ID: NewID(), Name: "cache"}); !errors.Is(err, ErrNameUsed) {
		t.Fatalf("the name of a creation under way was taken: %v", err)
	}
}
