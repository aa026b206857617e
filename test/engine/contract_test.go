package enginetest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	mobyevents "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/engine"
)

// run is a detached run of the busybox image with args.
func run(t *testing.T, b engine.Backend, name string, args ...string) string {
	t.Helper()
	res, err := b.ContainerRun(t.Context(), engine.CreateOptions{Name: name, Config: mobycontainer.Config{Image: "bb:1", Cmd: args},
		HostConfig: mobycontainer.HostConfig{NetworkMode: "none"}}, nil)
	if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return res.ID
}

func TestContainerLifecycle(t *testing.T) {
	b := engine.Backend(newEngine(t))
	ctx := t.Context()
	cr, err := b.ContainerCreate(ctx, engine.CreateOptions{Name: "life",
		Config:     mobycontainer.Config{Image: "bb:1", Cmd: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}},
		HostConfig: mobycontainer.HostConfig{NetworkMode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := b.ContainerInspect("life")
	if err != nil || in.ID != cr.ID || in.State.Status != "created" {
		t.Fatalf("inspect a created container: %+v %v", in, err)
	}
	if err := b.ContainerStart(ctx, cr.ID[:12]); err != nil {
		t.Fatal(err)
	}
	w, err := b.ContainerWait(ctx, "life", engine.WaitNotRunning)
	if err != nil || w.StatusCode != 3 {
		t.Fatalf("wait: %+v %v", w, err)
	}
	var stdout, stderr bytes.Buffer
	if err := b.ContainerLogs(ctx, "life", engine.LogsOptions{}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "out\n" || stderr.String() != "err\n" {
		t.Errorf("logs: stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	list, err := b.ContainerList(engine.ListOptions{All: true, Filters: engine.Filters{"exited": {"3"}}})
	if err != nil || len(list) != 1 || !strings.HasPrefix(list[0].Status, "Exited (3)") {
		t.Fatalf("ps -a --filter exited=3: %+v %v", list, err)
	}
	if err := b.ContainerRemove(ctx, "life", engine.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ContainerInspect("life"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("inspect after rm: %v, want ErrNotFound", err)
	}
}

func TestStopPauseAndWaitConditions(t *testing.T) {
	b := engine.Backend(newEngine(t))
	ctx := t.Context()
	id := run(t, b, "sleeper", "sleep", "300")
	if err := b.ContainerPause(id); err != nil {
		t.Fatal(err)
	}
	if in, _ := b.ContainerInspect(id); in.State.Status != "paused" || !in.State.Paused {
		t.Errorf("paused container: %+v", in.State)
	}
	if list, _ := b.ContainerList(engine.ListOptions{Filters: engine.Filters{"status": {"paused"}}}); len(list) != 1 || !strings.HasSuffix(list[0].Status, "(Paused)") {
		t.Errorf("ps --filter status=paused: %+v", list)
	}
	if err := b.ContainerPause(id); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("pause twice: %v, want a conflict", err)
	}
	if err := b.ContainerUnpause(id); err != nil {
		t.Fatal(err)
	}
	next := make(chan int64, 1)
	go func() {
		w, err := b.ContainerWait(ctx, id, engine.WaitNextExit)
		if err != nil {
			t.Error(err)
		}
		next <- w.StatusCode
	}()
	time.Sleep(50 * time.Millisecond)
	zero := 0
	if err := b.ContainerStop(ctx, id, engine.StopOptions{Timeout: &zero}); err != nil {
		t.Fatal(err)
	}
	if code := <-next; code != 137 {
		t.Errorf("next-exit after a stop with -t 0: %d, want 137", code)
	}
	removed := make(chan error, 1)
	go func() {
		_, err := b.ContainerWait(ctx, id, engine.WaitRemoved)
		removed <- err
	}()
	// The wait must be waiting before the remove, or it meets no
	// container at all (as Docker's would): an ordering, not a timing.
	time.Sleep(50 * time.Millisecond)
	if err := b.ContainerRemove(ctx, id, engine.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-removed:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Error("wait --condition removed did not return after rm")
	}
	if _, err := b.ContainerWait(ctx, id, "bogus"); err == nil {
		t.Error("a bogus wait condition must fail")
	}
}

// TestParallelExecsInOneProcess runs 20 exec sessions at once from this
// one process and checks every exit code: a session reaps only its own
// process, and none is left a zombie of ours.
func TestParallelExecsInOneProcess(t *testing.T) {
	b := engine.Backend(newEngine(t))
	id := run(t, b, "target", "sleep", "300")
	const n = 20
	codes := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], errs[i] = b.ContainerExec(t.Context(), id, engine.ExecOptions{
				ExecConfig: engine.ExecConfig{Cmd: []string{"sh", "-c", "sleep 0.1; exit " + strconv.Itoa(i)}}})
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || codes[i] != i {
			t.Errorf("exec %d: code %d, %v", i, codes[i], errs[i])
		}
	}
	if z := zombiesOfUs(); len(z) > 0 {
		t.Errorf("zombies after 20 execs: %v", z)
	}
}

func TestExecSessionOutlivesItsStarter(t *testing.T) {
	b := engine.Backend(newEngine(t))
	id := run(t, b, "target", "sleep", "300")
	eid, err := b.ExecCreate(id, engine.ExecConfig{Cmd: []string{"sh", "-c", "sleep 0.3; exit 9"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ExecStart(t.Context(), eid, engine.ExecStartOptions{Detach: true}); err != nil {
		t.Fatal(err)
	}
	in, err := b.ExecInspect(eid[:12])
	if err != nil || !in.Running || in.Pid == 0 || in.ContainerID != id {
		t.Fatalf("inspect a running session: %+v %v", in, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for in.Running && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		in, _ = b.ExecInspect(eid)
	}
	if in.Running || in.ExitCode == nil || *in.ExitCode != 9 {
		t.Fatalf("a detached session's end: %+v", in)
	}
	if _, err := b.ExecStart(t.Context(), eid, engine.ExecStartOptions{}); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("a second start of one session: %v, want a conflict", err)
	}
	var se *engine.StatusError
	_, err = b.ContainerExec(t.Context(), id, engine.ExecOptions{ExecConfig: engine.ExecConfig{Cmd: []string{"nosuch"}}})
	if !errors.As(err, &se) || se.Status != 126 {
		t.Errorf("exec of a missing command: %v, want status 126, as Docker's exec", err)
	}
}

// TestTerminalExecSessionDetaches: a session with a terminal streams
// through its monitor, which keeps the pty: the starter's detach keys
// end the start (ErrDetached) and the session runs on; its exit code is
// recorded once it ends.
func TestTerminalExecSessionDetaches(t *testing.T) {
	b := engine.Backend(newEngine(t))
	id := run(t, b, "target", "sleep", "300")
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inR.Close()
	defer inW.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	eid, err := b.ExecCreate(id, engine.ExecConfig{Cmd: []string{"sh", "-c", "read line; echo got-$line; sleep 1; exit 4"}, Tty: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := b.ExecStart(t.Context(), eid, engine.ExecStartOptions{Stdin: inR, Stdout: outW, DetachKeys: "ctrl-x"})
		_ = outW.Close()
		done <- err
	}()
	if _, err := inW.WriteString("one\n"); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(outR)
	for {
		l, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("the session's output: %q %v", l, err)
		}
		if strings.Contains(l, "got-one") {
			break
		}
	}
	if _, err := inW.WriteString("\x18"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, engine.ErrDetached) {
			t.Fatalf("a start that detached: %v, want ErrDetached", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the detach keys did not end the start")
	}
	in, err := b.ExecInspect(eid)
	if err != nil || !in.Running {
		t.Fatalf("a detached session: %+v %v, want it running", in, err)
	}
	// Its terminal stayed: without it the shell would end on SIGHUP
	// (129), not with its own code.
	deadline := time.Now().Add(10 * time.Second)
	for in.Running && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		in, _ = b.ExecInspect(eid)
	}
	if in.Running || in.ExitCode == nil || *in.ExitCode != 4 {
		t.Fatalf("a detached session's end: %+v", in)
	}
}

// TestNoZombieMonitorsInALongLivedCaller starts and ends containers from
// this process, foreground and detached: their monitors are nobody's
// children, so none is left a zombie here.
func TestNoZombieMonitorsInALongLivedCaller(t *testing.T) {
	b := engine.Backend(newEngine(t))
	ctx := t.Context()
	for i := range 5 {
		id := run(t, b, "", "true")
		if w, err := b.ContainerWait(ctx, id, ""); err != nil || w.StatusCode != 0 {
			t.Fatalf("run %d: %+v %v", i, w, err)
		}
		var out bytes.Buffer
		res, err := b.ContainerRun(ctx, engine.CreateOptions{Config: mobycontainer.Config{Image: "bb:1", Cmd: []string{"sh", "-c", "echo fg; exit 4"}},
			HostConfig: mobycontainer.HostConfig{NetworkMode: "none", AutoRemove: true}}, &engine.Streams{Stdout: &out, Stderr: os.Stderr})
		if err != nil || res.ExitCode != 4 || out.String() != "fg\n" {
			t.Fatalf("foreground run %d: %+v %q %v", i, res, out.String(), err)
		}
		if _, err := b.ContainerInspect(res.ID); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("a --rm container is gone when its foreground run returns: %v", err)
		}
	}
	if z := zombiesOfUs(); len(z) > 0 {
		t.Errorf("zombie monitors: %v", z)
	}
}

func TestImagesNetworksVolumes(t *testing.T) {
	b := engine.Backend(newEngine(t))
	if err := b.ImageTag("bb:1", "bb:2"); err != nil {
		t.Fatal(err)
	}
	du, err := b.SystemDiskUsage()
	if err != nil || du.ImageUsage.TotalCount != 1 || du.ImageUsage.TotalSize == 0 || len(du.ImageUsage.Items) != 1 {
		t.Fatalf("system df: %+v %v", du.ImageUsage, err)
	}
	imgs, err := b.ImageList(engine.ImageListOptions{Filters: engine.Filters{"reference": {"bb:2"}}})
	if err != nil || len(imgs) != 1 || len(imgs[0].RepoTags) != 1 || imgs[0].RepoTags[0] != "bb:2" {
		t.Fatalf("images bb:2: %+v %v", imgs, err)
	}
	if _, err := b.ImageList(engine.ImageListOptions{Filters: engine.Filters{"bogus": {"1"}}}); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("an unknown image filter: %v", err)
	}
	if _, err := b.ImageRemove("bb:2", false); err != nil {
		t.Fatal(err)
	}
	id := run(t, b, "user", "sleep", "300")
	if _, err := b.ImageRemove("bb:1", false); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("rmi of an image in use: %v, want a conflict", err)
	}
	if err := b.ContainerRemove(t.Context(), id, engine.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	netID, err := b.NetworkCreate(engine.NetworkCreateOptions{Name: "et-net", Subnet: "10.231.7.0/24", Labels: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := b.NetworkInspect("et-net")
	if err != nil || n.ID != netID || n.IPAM.Config[0].Subnet.String() != "10.231.7.0/24" || n.Labels["k"] != "v" {
		t.Fatalf("network inspect: %+v %v", n, err)
	}
	if nets, err := b.NetworkList(engine.Filters{"label": {"k=v"}}); err != nil || len(nets) != 1 {
		t.Errorf("network ls --filter label=k=v: %+v %v", nets, err)
	}
	if err := b.NetworkRemove("et-net"); err != nil {
		t.Fatal(err)
	}
	v, err := b.VolumeCreate(engine.VolumeCreateOptions{Name: "et-vol"})
	if err != nil || v.Name != "et-vol" || v.Driver != "local" {
		t.Fatalf("volume create: %+v %v", v, err)
	}
	if vols, err := b.VolumeList(engine.Filters{"dangling": {"true"}}); err != nil || len(vols) != 1 {
		t.Errorf("volume ls --filter dangling=true: %+v %v", vols, err)
	}
	if err := b.VolumeRemove("et-vol", false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.VolumeInspect("et-vol"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("inspect a removed volume: %v", err)
	}
}

// TestEventsFromEveryProcess follows the journal while containers are
// made, run by their monitors and removed: create, start, die and
// destroy arrive in order, from this process and the monitor alike.
func TestEventsFromEveryProcess(t *testing.T) {
	b := engine.Backend(newEngine(t))
	since := time.Now()
	id := run(t, b, "evented", "sh", "-c", "exit 2")
	if _, err := b.ContainerWait(t.Context(), id, ""); err != nil {
		t.Fatal(err)
	}
	if err := b.ContainerRemove(t.Context(), id, engine.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := b.SystemEvents(t.Context(), engine.EventsOptions{Since: since, Until: time.Now(),
		Filters: engine.Filters{"container": {"evented"}}}, func(m mobyevents.Message) error {
		got = append(got, string(m.Action))
		if m.Action == mobyevents.ActionDie && m.Actor.Attributes["exitCode"] != "2" {
			t.Errorf("die without its exit code: %+v", m.Actor)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "create start die destroy" {
		t.Errorf("events of a run: %v", got)
	}
	if err := b.SystemEvents(t.Context(), engine.EventsOptions{Filters: engine.Filters{"bogus": {"x"}}}, nil); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("an unknown events filter: %v", err)
	}
}

func TestLogDriverNoneKeepsNothing(t *testing.T) {
	b := engine.Backend(newEngine(t))
	res, err := b.ContainerRun(t.Context(), engine.CreateOptions{Config: mobycontainer.Config{Image: "bb:1", Cmd: []string{"echo", "hi"}},
		HostConfig: mobycontainer.HostConfig{NetworkMode: "none", LogConfig: mobycontainer.LogConfig{Type: "none"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ContainerWait(t.Context(), res.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := b.ContainerLogs(t.Context(), res.ID, engine.LogsOptions{}, io.Discard, io.Discard); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("logs of a container without a log: %v", err)
	}
	in, err := b.ContainerInspect(res.ID)
	if err != nil || in.HostConfig.LogConfig.Type != "none" {
		t.Errorf("inspect: %+v %v", in.HostConfig.LogConfig, err)
	}
	if _, err := os.Stat(in.LogPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the none driver wrote %s: %v", in.LogPath, err)
	}
}
