package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// apiServer runs `berth serve` on a socket of the test's, over root,
// with any more global flags, and stops it (by its PID) when the test
// ends. It returns the socket.
func apiServer(t *testing.T, root string, globals ...string) (sock string, stop func()) {
	t.Helper()
	return apiServerAt(t, root, filepath.Join(root, "api.sock"), globals...)
}

// apiServerAt is apiServer on the socket sock.
func apiServerAt(t *testing.T, root, sock string, globals ...string) (string, func()) {
	t.Helper()
	args := append([]string{"--root", root, "--runroot", filepath.Join(root, "run")}, globals...)
	cmd := exec.Command(*berthBin, append(args, "serve", "-H", "unix://"+sock)...)
	// Credentials of its own, none: a client's reach it with each request.
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(root, "server-docker-config"))
	return sock, startServer(t, "berth serve", cmd, sock)
}

// startServer starts a server (berth serve, berth cri) and returns once
// it answers on sock; the function it returns stops it by its PID, and
// runs when the test ends in any case.
func startServer(t *testing.T, name string, cmd *exec.Cmd, sock string) (stop func()) {
	t.Helper()
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("%s: %v: %s", name, err, logs.String())
		}
	}
	t.Cleanup(stop)
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return stop
		}
		if i == 300 {
			t.Fatalf("%s did not listen: %s", name, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// docker runs the real docker CLI against the socket, with a config
// directory of the test's own.
func docker(t *testing.T, sock string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = append(append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+filepath.Join(filepath.Dir(sock), "docker-config")), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill() // ours, by PID: a hung client fails the test
		<-done
		t.Fatalf("docker %v hung: %s%s", args, out.String(), errb.String())
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustDocker(t *testing.T, sock string, args ...string) string {
	t.Helper()
	r := docker(t, sock, nil, args...)
	if r.code != 0 {
		t.Fatalf("docker %v: exit %d: %s%s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func requireDockerCLI(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("the docker CLI is not installed (it is at /usr/local/bin/docker on these machines)")
	}
}

// TestDockerCLIRunsContainersThroughTheAPI: the real docker CLI 28,
// through `berth serve`: version, run in the foreground (output, exit
// code, a command that is not there), run -d, ps, logs, inspect, stop,
// rm, and what the CLI and the server see is the same.
func TestDockerCLIRunsContainersThroughTheAPI(t *testing.T) {
	requireDockerCLI(t)
	root := engineWithBusybox(t)
	sock, _ := apiServer(t, root)
	if v := mustDocker(t, sock, "version", "--format", "{{.Server.APIVersion}} {{.Client.APIVersion}}"); v != "1.51 1.50\n" {
		t.Fatalf("versions: %q", v)
	}
	r := docker(t, sock, nil, "run", "--rm", "busybox:it", "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Fatalf("run: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := docker(t, sock, nil, "run", "--rm", "busybox:it", "nosuchcmd"); r.code != 127 || !strings.Contains(r.stderr, `exec: "nosuchcmd": executable file not found`) {
		t.Fatalf("a missing command: exit %d: %s", r.code, r.stderr)
	}
	if out := mustDocker(t, sock, "ps", "-a", "-q"); out != "" {
		t.Fatalf("--rm left: %s", out)
	}
	id := strings.TrimSpace(mustDocker(t, sock, "run", "-d", "--name", "api-bg", "busybox:it", "sh", "-c", "echo started; exec sleep 60"))
	if ps := mustDocker(t, sock, "ps", "--format", "{{.Names}} {{.Image}}"); ps != "api-bg busybox:it\n" {
		t.Fatalf("ps: %q", ps)
	}
	// The CLI of berth sees what the API made, as it made it.
	if got := mustEngine(t, root, "ps", "--format", "{{.Names}}"); got != "api-bg\n" {
		t.Fatalf("berth ps: %q", got)
	}
	for i := 0; mustDocker(t, sock, "logs", "api-bg") != "started\n"; i++ {
		if i == 100 {
			t.Fatal("logs never had the container's line")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := mustDocker(t, sock, "inspect", "-f", "{{.State.Status}} {{.Id}}", "api-bg"); st != "running "+id+"\n" {
		t.Fatalf("inspect: %q", st)
	}
	mustDocker(t, sock, "stop", "-t", "1", "api-bg")
	mustDocker(t, sock, "rm", "api-bg")
	if out := mustDocker(t, sock, "ps", "-a", "-q"); out != "" {
		t.Fatalf("left after rm: %s", out)
	}
	if r := docker(t, sock, nil, "inspect", "nosuch"); r.code == 0 || !strings.Contains(r.stderr, "No such object: nosuch") {
		t.Fatalf("inspect of nothing: exit %d: %s", r.code, r.stderr)
	}
}

// TestDockerCLIBuildsPullsAndPushesThroughTheAPI: docker build with the
// classic builder (DOCKER_BUILDKIT=0, and unset: the CLI falls back
// without buildx), images, tag, push to a loopback registry, rmi, pull
// back, and run.
func TestDockerCLIBuildsPullsAndPushesThroughTheAPI(t *testing.T) {
	requireDockerCLI(t)
	root := engineWithBusybox(t)
	sock, _ := apiServer(t, root)
	reg := startRegistry(t, nil)
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it\nRUN echo built > /b\nCMD cat /b\n"})
	for _, env := range [][]string{{"DOCKER_BUILDKIT=0"}, nil} {
		r := docker(t, sock, env, "build", "-t", reg+"/app:v1", ctx)
		if r.code != 0 || !strings.Contains(r.stdout, "Successfully tagged "+reg+"/app:v1") {
			t.Fatalf("build %v: exit %d: %s%s", env, r.code, r.stdout, r.stderr)
		}
	}
	if imgs := mustDocker(t, sock, "images", "--format", "{{.Repository}}:{{.Tag}}", reg+"/app"); imgs != reg+"/app:v1\n" {
		t.Fatalf("images: %q", imgs)
	}
	// The classic builder's --cache-from: only the given images (and
	// their parents) serve steps, metadata steps included; an image
	// that is not here serves none.
	cctx := buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it\nENV FOO=bar\nRUN touch baz\nRUN touch bax\n"})
	classic := []string{"DOCKER_BUILDKIT=0"}
	mustDocker(t, sock, "build", "-t", "cache1", cctx)
	if r := docker(t, sock, classic, "build", "--cache-from", "cache1", "-t", "cache2", cctx); r.code != 0 || strings.Count(r.stdout, "Using cache") != 3 {
		t.Fatalf("--cache-from cache1: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if r := docker(t, sock, classic, "build", "--cache-from", "nosuchtag", "-t", "cache3", cctx); r.code != 0 || strings.Count(r.stdout, "Using cache") != 0 {
		t.Fatalf("--cache-from nosuchtag: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	mustDocker(t, sock, "rmi", "cache1", "cache2", "cache3")
	if out := mustDocker(t, sock, "builder", "prune", "-f", "--filter", "until=1h"); !strings.Contains(out, "Total reclaimed space: 0B") {
		t.Fatalf("builder prune --filter until=1h: %q", out)
	}
	mustDocker(t, sock, "builder", "prune", "-f")
	mustDocker(t, sock, "push", reg+"/app:v1")
	mustDocker(t, sock, "rmi", reg+"/app:v1")
	if r := docker(t, sock, nil, "image", "inspect", reg+"/app:v1"); r.code == 0 {
		t.Fatal("rmi left the image")
	}
	// run pulls what is not here, as the CLI does on a 404.
	r := docker(t, sock, nil, "run", "--rm", reg+"/app:v1")
	if r.code != 0 || r.stdout != "built\n" || !strings.Contains(r.stderr, "Unable to find image") {
		t.Fatalf("run of a pulled image: exit %d: %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestAPIServerRestartLeavesContainersRunning: containers belong to
// their monitors; stopping the server stops none, and a new server
// shows them.
func TestAPIServerRestartLeavesContainersRunning(t *testing.T) {
	requireDockerCLI(t)
	root := engineWithBusybox(t)
	sock, stop := apiServer(t, root)
	mustDocker(t, sock, "run", "-d", "--name", "survivor", "busybox:it", "sleep", "60")
	stop()
	if got := mustEngine(t, root, "ps", "--format", "{{.Names}} {{.State}}"); got != "survivor running\n" {
		t.Fatalf("after the server stopped: %q", got)
	}
	sock, _ = apiServer(t, root)
	if got := mustDocker(t, sock, "ps", "--format", "{{.Names}} {{.State}}"); got != "survivor running\n" {
		t.Fatalf("a new server sees: %q", got)
	}
	mustDocker(t, sock, "rm", "-f", "survivor")
}

// TestDockerCLIExecNetworksVolumesAndEventsThroughTheAPI: exec with its
// streams, input and exit code; a user network and a named volume a
// container uses; stats, top, system df; events as they happen.
func TestDockerCLIExecNetworksVolumesAndEventsThroughTheAPI(t *testing.T) {
	requireDockerCLI(t)
	root := engineWithBusybox(t)
	sock, _ := apiServer(t, root)
	mustDocker(t, sock, "network", "create", "--label", "it=1", "--subnet", "10.219.0.0/24", "--aux-address", "r=10.219.0.9",
		"-o", "com.docker.network.driver.mtu=1450", "--ipam-opt", "o=1", "apinet")
	if got := mustDocker(t, sock, "network", "inspect", "-f", `{{index .Options "com.docker.network.driver.mtu"}} {{json (index .IPAM.Config 0).AuxiliaryAddresses}} {{json .IPAM.Options}}`, "apinet"); got != `1450 {"r":"10.219.0.9"} {"o":"1"}`+"\n" {
		t.Fatalf("network inspect: %q", got)
	}
	if r := docker(t, sock, nil, "network", "create", "--ipam-driver", "dhcp", "nodhcp"); r.code == 0 || !strings.Contains(r.stderr, "only default is supported") {
		t.Fatalf("--ipam-driver dhcp: %d %q", r.code, r.stderr)
	}
	mustDocker(t, sock, "volume", "create", "apivol")
	mustDocker(t, sock, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "apitmp")
	if got := mustDocker(t, sock, "run", "--rm", "-v", "apitmp:/t", "busybox:it", "stat", "-f", "-c", "%T", "/t"); got != "tmpfs\n" {
		t.Fatalf("a tmpfs volume: %q", got)
	}
	if got := mustDocker(t, sock, "volume", "inspect", "-f", "{{.Options.type}} {{.Options.o}}", "apitmp"); got != "tmpfs size=1m\n" {
		t.Fatalf("volume inspect: %q", got)
	}
	mustDocker(t, sock, "volume", "rm", "apitmp")
	// From a time before the container: the journal has every event, so
	// when the stream's request arrives does not matter.
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	events := exec.Command("docker", "events", "--since", since, "--filter", "container=svc", "--format", "{{.Action}}")
	events.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+filepath.Join(root, "docker-config"))
	var evs bytes.Buffer
	events.Stdout = &evs
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = events.Process.Kill() // ours, by PID
		_ = events.Wait()         // killed: its error says so
	}()
	mustDocker(t, sock, "run", "-d", "--name", "svc", "--network", "apinet", "-v", "apivol:/data", "busybox:it", "sleep", "60")
	r := docker(t, sock, nil, "exec", "svc", "sh", "-c", "echo out; echo err >&2; echo kept > /data/f; exit 4")
	if r.code != 4 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Fatalf("exec: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	in := exec.Command("docker", "exec", "-i", "svc", "cat")
	in.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+filepath.Join(root, "docker-config"))
	in.Stdin = strings.NewReader("through stdin\n")
	if out, err := in.Output(); err != nil || string(out) != "through stdin\n" {
		t.Fatalf("exec -i: %v %q", err, out)
	}
	if nets := mustDocker(t, sock, "network", "ls", "--filter", "label=it=1", "--format", "{{.Name}}"); nets != "apinet\n" {
		t.Fatalf("network ls by label: %q", nets)
	}
	if got := mustDocker(t, sock, "inspect", "-f", `{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}`, "svc"); got != "apinet\n" {
		t.Fatalf("the container's networks: %q", got)
	}
	if st := mustDocker(t, sock, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "svc"); st != "svc 1\n" {
		t.Fatalf("stats: %q", st)
	}
	if top := mustDocker(t, sock, "top", "svc"); !strings.Contains(top, "sleep 60") {
		t.Fatalf("top: %q", top)
	}
	if df := mustDocker(t, sock, "system", "df", "--format", "{{.Type}} {{.TotalCount}}"); !strings.Contains(df, "Images 1\n") || !strings.Contains(df, "Containers 1\n") {
		t.Fatalf("system df: %q", df)
	}
	mustDocker(t, sock, "rm", "-f", "svc")
	if got := mustDocker(t, sock, "run", "--rm", "-v", "apivol:/data", "busybox:it", "cat", "/data/f"); got != "kept\n" {
		t.Fatalf("the volume: %q", got)
	}
	mustDocker(t, sock, "network", "rm", "apinet")
	mustDocker(t, sock, "volume", "rm", "apivol")
	for i := 0; !strings.Contains(evs.String(), "destroy"); i++ {
		if i == 100 {
			t.Fatalf("events: %q", evs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if want := "create\nstart\nexec_create"; !strings.HasPrefix(evs.String(), want) {
		t.Fatalf("events %q, want them to begin with %q", evs.String(), want)
	}
	if r := docker(t, sock, nil, "swarm", "join-token", "worker"); r.code == 0 || !strings.Contains(r.stderr, "not a swarm manager") {
		t.Fatalf("swarm: exit %d %s", r.code, r.stderr)
	}
}

// TestDockerCLITerminalsThroughTheAPI: run -t and exec -t through a
// pty (script(1)): the container's process has a terminal, its output
// comes back raw, and the exit code is the container's.
func TestDockerCLITerminalsThroughTheAPI(t *testing.T) {
	requireDockerCLI(t)
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatal("script(1) is not installed (Debian's bsdutils)")
	}
	root := engineWithBusybox(t)
	sock, _ := apiServer(t, root)
	// The client's output goes to a file ($OUT), not through script's
	// own pty: what is checked is what the client received, not what
	// script relayed before it saw its child exit. (The client takes the
	// terminal's size from its stdout: the size checks keep it the pty.)
	inPtyFrom := func(stdin io.Reader, command string) (string, int) {
		t.Helper()
		outFile := filepath.Join(root, "pty-out")
		_ = os.Remove(outFile) // the previous command's, if any
		cmd := exec.Command("script", "-qec", command, "/dev/null")
		cmd.Stdin = stdin
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+filepath.Join(root, "docker-config"), "OUT="+outFile)
		_, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		out, err := os.ReadFile(outFile)
		if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	inPty := func(command string) (string, int) { t.Helper(); return inPtyFrom(nil, command) }
	out, code := inPty(`docker run -t --rm busybox:it sh -c 'tty; exit 5' >"$OUT"; exit $?`)
	if code != 5 || !strings.Contains(out, "/dev/pts/0") {
		t.Fatalf("run -t: exit %d, %q", code, out)
	}
	mustDocker(t, sock, "run", "-d", "--name", "term", "busybox:it", "sleep", "60")
	if out, code := inPty(`docker exec -t term sh -c 'tty; echo hi' >"$OUT"`); code != 0 || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "hi") {
		t.Fatalf("exec -t: exit %d, %q", code, out)
	}
	// The session's terminal takes the client's size, then its resize
	// (the CLI sends one on SIGWINCH, and follows resizes only with a
	// terminal on stdin: a background job's is /dev/null without </dev/tty).
	// The client's size comes from its stdout, so that stays the pty
	// here, and the size is read back from a file in the container.
	inPty(`stty rows 33 cols 111; docker exec -t term sh -c 'stty size >/tmp/size'; : >"$OUT"`)
	if out := mustDocker(t, sock, "exec", "term", "cat", "/tmp/size"); !strings.Contains(out, "33 111") {
		t.Fatalf("exec -t size: %q", out)
	}
	inPty(`stty rows 33 cols 111; docker exec -t term sh -c 'sleep 3; stty size >/tmp/size' </dev/tty & sleep 1; stty rows 40 cols 120; kill -WINCH $!; wait; : >"$OUT"`)
	if out := mustDocker(t, sock, "exec", "term", "cat", "/tmp/size"); !strings.Contains(out, "40 120") {
		t.Fatalf("exec -t resize: %q", out)
	}
	// exec -dt keeps its terminal; exec -it detaches on its keys, and
	// its process runs on.
	mustDocker(t, sock, "exec", "-dt", "term", "sh", "-c", "tty >/tmp/dtty; exec sleep 300")
	waitFor(t, func() bool {
		return strings.Contains(docker(t, sock, nil, "exec", "term", "cat", "/tmp/dtty").stdout, "/dev/pts/")
	})
	// The docker CLI watches for the keys itself, and ends as it does
	// with any daemon: "read escape sequence", 1.
	in := &slowReader{parts: []string{"yo\n", "\x18x"}, pause: 700 * time.Millisecond}
	out, _ = inPtyFrom(in, `docker exec -it --detach-keys ctrl-x,x term cat >"$OUT" 2>"$OUT.err"; echo "exit $?" >>"$OUT.err"`)
	if e, _ := os.ReadFile(filepath.Join(root, "pty-out.err")); !strings.Contains(out, "yo") || string(e) != "read escape sequence\nexit 1\n" {
		t.Fatalf("exec -it, then its detach keys: %q %q", out, e)
	}
	if ps := mustDocker(t, sock, "exec", "term", "ps", "-o", "args"); !strings.Contains(ps, "sleep 300") || !strings.Contains(ps, "\ncat\n") {
		t.Fatalf("a detached session's process is gone:\n%s", ps)
	}
	mustDocker(t, sock, "rm", "-f", "term")
}

// getWhenUp is the body of GET / on a loopback port, once it answers.
func getWhenUp(t *testing.T, port int) string {
	t.Helper()
	return getURLWhenUp(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/")
}

// getURLWhenUp is the body of GET url, once it answers.
func getURLWhenUp(t *testing.T, url string) string {
	t.Helper()
	var body string
	waitFor(t, func() bool {
		var err error
		body, err = httpGet(url)
		return err == nil
	})
	return body
}

// apiClient is an HTTP client of the socket.
func apiClient(sock string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
}

// TestDockerCLICopiesThroughTheAPI: docker cp both ways, a tar on
// stdout and from stdin, a path that is not there; and a hostile
// archive PUT by hand stays inside the container.
func TestDockerCLICopiesThroughTheAPI(t *testing.T) {
	requireDockerCLI(t)
	root := engineWithBusybox(t)
	sock, _ := apiServer(t, root)
	mustDocker(t, sock, "run", "-d", "--name", "cp", "busybox:it", "sleep", "300")
	host := t.TempDir()
	os.MkdirAll(filepath.Join(host, "d", "sub"), 0o755)
	os.WriteFile(filepath.Join(host, "d", "sub", "f"), []byte("deep\n"), 0o640)
	os.Symlink("sub/f", filepath.Join(host, "d", "link"))
	os.WriteFile(filepath.Join(host, "one"), []byte("one\n"), 0o600)
	mustDocker(t, sock, "cp", filepath.Join(host, "one"), "cp:/tmp/")
	mustDocker(t, sock, "cp", filepath.Join(host, "d"), "cp:/tmp/d2")
	if out := mustDocker(t, sock, "exec", "cp", "sh", "-c", "cat /tmp/one /tmp/d2/sub/f /tmp/d2/link; stat -c '%a %N' /tmp/one /tmp/d2/link"); out != "one\ndeep\ndeep\n600 /tmp/one\n777 '/tmp/d2/link' -> 'sub/f'\n" {
		t.Fatalf("copied in: %q", out)
	}
	back := filepath.Join(host, "back")
	mustDocker(t, sock, "cp", "cp:/tmp/d2", back)
	if b, err := os.ReadFile(filepath.Join(back, "sub", "f")); err != nil || string(b) != "deep\n" {
		t.Fatalf("copied out: %q %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(back, "link")); err != nil || l != "sub/f" {
		t.Fatalf("link copied out: %q %v", l, err)
	}
	// - streams a tar.
	if out := mustDocker(t, sock, "cp", "cp:/tmp/one", "-"); !strings.Contains(out, "one\n") || !strings.HasPrefix(out, "one") {
		t.Fatalf("cp to stdout: %q", out)
	}
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	tw.WriteHeader(&tar.Header{Name: "fromstdin", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("in\n"))
	tw.Close()
	cmd := exec.Command("docker", "cp", "-", "cp:/tmp")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+filepath.Join(root, "docker-config"))
	cmd.Stdin = &tarball
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cp from stdin: %v %s", err, out)
	}
	if out := mustDocker(t, sock, "exec", "cp", "cat", "/tmp/fromstdin"); out != "in\n" {
		t.Fatalf("from stdin: %q", out)
	}
	if r := docker(t, sock, nil, "cp", "cp:/nosuch", host); r.code == 0 || !strings.Contains(r.stderr, "Could not find the file /nosuch in container cp") {
		t.Fatalf("missing path: %d %s", r.code, r.stderr)
	}
	// A hostile archive: .. names, and a link to / that a later entry
	// goes through. Both land inside the container's root.
	outside := filepath.Join(host, "escaped")
	tarball.Reset()
	tw = tar.NewWriter(&tarball)
	tw.WriteHeader(&tar.Header{Name: "../../../../../../.." + outside, Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("x\n"))
	tw.WriteHeader(&tar.Header{Name: "up", Linkname: "/", Typeflag: tar.TypeSymlink})
	tw.WriteHeader(&tar.Header{Name: "up" + outside + "2", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("y\n"))
	tw.Close()
	req, _ := http.NewRequest("PUT", "http://berth/v1.51/containers/cp/archive?path=/tmp", &tarball)
	resp, err := apiClient(sock).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The entry through the link is refused; the .. one landed under
	// the extraction point.
	if resp.StatusCode != 400 || !strings.Contains(string(msg), "escapes") {
		t.Fatalf("hostile archive: %s %s", resp.Status, msg)
	}
	for _, p := range []string{outside, outside + "2"} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("the archive wrote %s on the host", p)
		}
	}
	if out := mustDocker(t, sock, "exec", "cp", "cat", "/tmp"+outside); out != "x\n" {
		t.Fatalf("the .. entry inside the container: %q", out)
	}
	// A path through an absolute link resolves as the container sees it.
	mustDocker(t, sock, "exec", "cp", "ln", "-s", "/tmp", "/abs")
	mustDocker(t, sock, "cp", filepath.Join(host, "one"), "cp:/abs/two")
	mustDocker(t, sock, "cp", "cp:/abs/two", filepath.Join(host, "two"))
	if b, err := os.ReadFile(filepath.Join(host, "two")); err != nil || string(b) != "one\n" {
		t.Fatalf("through /abs: %q %v", b, err)
	}
}

// TestDockerCLIUpdatesThroughTheAPI: docker update changes a running
// container's cgroup limits and restart policy, and inspect shows them;
// a bad value is refused and changes nothing.
func TestDockerCLIUpdatesThroughTheAPI(t *testing.T) {
	requireDockerCLI(t)
	root := engineWithBusybox(t)
	sock, _ := apiServer(t, root)
	mustDocker(t, sock, "run", "-d", "--name", "up", "-m", "64m", "busybox:it", "sleep", "300")
	pid := strings.TrimSpace(mustDocker(t, sock, "inspect", "-f", "{{.State.Pid}}", "up"))
	limit := func(controller, file string) string {
		b, _ := os.ReadFile("/proc/" + pid + "/cgroup")
		for _, line := range strings.Split(string(b), "\n") {
			if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), controller) {
				v, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup", controller, parts[2], file))
				return strings.TrimSpace(string(v))
			}
		}
		return ""
	}
	if got := limit("memory", "memory.limit_in_bytes"); got != strconv.Itoa(64<<20) {
		t.Fatalf("memory limit at start: %q", got)
	}
	if out := mustDocker(t, sock, "update", "-m", "96m", "--memory-swap", "192m", "--pids-limit", "50", "--restart", "on-failure:3", "up"); out != "up\n" {
		t.Fatalf("update: %q", out)
	}
	if got := limit("memory", "memory.limit_in_bytes") + " " + limit("pids", "pids.max"); got != strconv.Itoa(96<<20)+" 50" {
		t.Fatalf("limits after update: %q", got)
	}
	if got := mustDocker(t, sock, "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "up"); got != strconv.Itoa(96<<20)+" 50 on-failure:3\n" {
		t.Fatalf("inspect after update: %q", got)
	}
	if r := docker(t, sock, nil, "update", "-m", "1m", "up"); r.code == 0 || !strings.Contains(r.stderr, "Minimum memory limit allowed is 6MB") {
		t.Fatalf("a too small limit: %d %s", r.code, r.stderr)
	}
	if got := limit("memory", "memory.limit_in_bytes"); got != strconv.Itoa(96<<20) {
		t.Fatalf("a refused update changed the limit: %q", got)
	}
}

// TestDockerCLIRegistryAuthAndArchivesThroughTheAPI: docker login asks
// the server (/auth) and keeps the credentials; push and pull send them
// (X-Registry-Auth) to a registry that wants them; the distribution
// endpoint and docker search answer from it; save, load and import move
// images as tars.
func TestDockerCLIRegistryAuthAndArchivesThroughTheAPI(t *testing.T) {
	requireDockerCLI(t)
	root := engineWithBusybox(t)
	sock, _ := apiServer(t, root)
	reg := startRegistry(t, basicAuth("user", "secret"))
	mustDocker(t, sock, "tag", "busybox:it", reg+"/private/app:1")
	if r := docker(t, sock, nil, "push", reg+"/private/app:1"); r.code == 0 {
		t.Fatal("push without credentials succeeded")
	}
	if r := docker(t, sock, nil, "login", "-u", "user", "-p", "wrong", reg); r.code == 0 || !strings.Contains(r.stderr, "unauthorized") {
		t.Fatalf("login with a wrong password: %d %s", r.code, r.stderr)
	}
	if r := docker(t, sock, nil, "login", "-u", "user", "-p", "secret", reg); r.code != 0 || !strings.Contains(r.stdout, "Login Succeeded") {
		t.Fatalf("login: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "server-docker-config", "config.json")); err == nil {
		t.Fatal("the server stored the client's credentials")
	}
	mustDocker(t, sock, "push", reg+"/private/app:1")
	mustDocker(t, sock, "rmi", reg+"/private/app:1")
	mustDocker(t, sock, "pull", reg+"/private/app:1")

	auth := base64.URLEncoding.EncodeToString([]byte(`{"username":"user","password":"secret"}`))
	req, _ := http.NewRequest("GET", "http://berth/v1.51/distribution/"+reg+"/private/app:1/json", nil)
	req.Header.Set("X-Registry-Auth", auth)
	resp, err := apiClient(sock).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var dist struct {
		Descriptor struct{ MediaType, Digest string }
		Platforms  []struct{ OS, Architecture string }
	}
	json.NewDecoder(resp.Body).Decode(&dist)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(dist.Descriptor.Digest, "sha256:") || len(dist.Platforms) != 1 || dist.Platforms[0].OS != "linux" {
		t.Fatalf("distribution: %s %+v", resp.Status, dist)
	}
	if out := mustDocker(t, sock, "search", "--format", "{{.Name}}", reg+"/app"); out != reg+"/private/app\n" {
		t.Fatalf("search: %q", out)
	}
	if r := docker(t, sock, nil, "search", "busybox"); r.code == 0 || !strings.Contains(r.stderr, "name the registry to search") {
		t.Fatalf("search without a registry: %d %s", r.code, r.stderr)
	}

	archive := filepath.Join(t.TempDir(), "saved.tar")
	mustDocker(t, sock, "save", "-o", archive, reg+"/private/app:1")
	mustDocker(t, sock, "rmi", reg+"/private/app:1")
	if out := mustDocker(t, sock, "load", "-i", archive); !strings.Contains(out, "Loaded image: "+reg+"/private/app:1") {
		t.Fatalf("load: %q", out)
	}
	busyboxLayer(t)
	id := strings.TrimSpace(mustDocker(t, sock, "import", "-c", `CMD ["echo", "imported"]`, filepath.Join(suiteDir, "busybox-layer.tar"), "imported:1"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("import: %q", id)
	}
	if r := docker(t, sock, nil, "run", "--rm", "imported:1"); r.code != 0 || r.stdout != "imported\n" {
		t.Fatalf("run of the imported image: %d %q %q", r.code, r.stdout, r.stderr)
	}
	mustDocker(t, sock, "rmi", "imported:1", reg+"/private/app:1")
}

// TestDockerCLIPublishesAndFollowsThroughTheAPI: run -d -p serves on the
// published port; logs -f follows a container's output until it ends.
func TestDockerCLIPublishesAndFollowsThroughTheAPI(t *testing.T) {
	requireDockerCLI(t)
	root := engineWithBusybox(t)
	sock, _ := apiServer(t, root)
	port := freePort(t)
	mustDocker(t, sock, "run", "-d", "--name", "web", "-p", "127.0.0.1:"+strconv.Itoa(port)+":8080", "busybox:it",
		"sh", "-c", "mkdir /www && echo served > /www/index.html && exec httpd -f -p 8080 -h /www")
	if body := getWhenUp(t, port); body != "served\n" {
		t.Fatalf("the published port: %q", body)
	}
	if out := mustDocker(t, sock, "port", "web", "8080"); out != "127.0.0.1:"+strconv.Itoa(port)+"\n" {
		t.Fatalf("port: %q", out)
	}
	mustDocker(t, sock, "run", "-d", "--name", "ticker", "busybox:it", "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.3; done")
	// -f returns once the container has ended, with every line.
	if out := mustDocker(t, sock, "logs", "-f", "ticker"); out != "tick 1\ntick 2\ntick 3\n" {
		t.Fatalf("logs -f: %q", out)
	}
	mustDocker(t, sock, "rm", "-f", "web", "ticker")
}

// TestImageTreeReadsAsDockers: images --tree lists each image with its
// platform below it, marks the ones in use, shows untagged images only
// with -a, and reads as the docker CLI's tree over the same engine
// (whose colours are a terminal's only).
func TestImageTreeReadsAsDockers(t *testing.T) {
	requireDockerCLI(t)
	root := engineWithBusybox(t)
	sock, _ := apiServer(t, root)
	mustEngine(t, root, "tag", "busybox:it", "localhost:5000/second/name:v2")
	mustEngine(t, root, "create", "--name", "user", "busybox:it", "true")
	mustEngine(t, root, "commit", "user")
	ansi := regexp.MustCompile("\x1b\\[[0-9;]*m")
	for _, args := range [][]string{{}, {"-a"}, {"busybox"}, {"--filter", "dangling=true"}} {
		want := ansi.ReplaceAllString(mustDocker(t, sock, append([]string{"images", "--tree"}, args...)...), "")
		got := mustEngine(t, root, append([]string{"images", "--tree"}, args...)...)
		if got != want {
			t.Fatalf("images --tree %v:\n%s\nthe docker CLI's:\n%s", args, got, want)
		}
	}
	tree := mustEngine(t, root, "images", "--tree", "-a")
	arch := goruntime.GOARCH
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^localhost:5000/second/name:v2\nbusybox:it +[0-9a-f]{12} +\S+ +\S+   U    \n└─ linux/` + arch + ` +[0-9a-f]{12} +\S+ +\S+   U    \n`),
		regexp.MustCompile(`(?m)^<untagged> +[0-9a-f]{12} +\S+ +\S+        \n└─ linux/` + arch + ` `),
	} {
		if !want.MatchString(tree) {
			t.Fatalf("images --tree -a: no match for %s in\n%s", want, tree)
		}
	}
	if strings.Contains(mustEngine(t, root, "images", "--tree"), "<untagged>") {
		t.Fatal("images --tree shows an untagged image without -a")
	}
	if r := engine(t, root, "images", "--tree", "-q"); r.code != 1 || !strings.Contains(r.stderr, "--quiet is not yet supported with --tree") {
		t.Fatalf("images --tree -q: %d %q", r.code, r.stderr)
	}
}

// TestRunUseAPISocket: run --use-api-socket mounts berth serve's socket
// at /var/run/docker.sock and the user's logins (only those its
// config.json holds) at DOCKER_CONFIG=/run/secrets/docker, so a docker
// CLI inside drives the engine it runs on; without a server it is
// refused and makes nothing.
func TestRunUseAPISocket(t *testing.T) {
	requireDockerCLI(t)
	root := engineWithBusybox(t)
	if r := engine(t, root, "run", "--name", "nosock", "--use-api-socket", "busybox:it", "true"); r.code != 125 || !strings.Contains(r.stderr, "no API socket at") {
		t.Fatalf("without berth serve: %d %q", r.code, r.stderr)
	}
	if r := engine(t, root, "inspect", "nosock"); r.code == 0 {
		t.Fatal("a refused --use-api-socket made its container")
	}
	cfg := filepath.Join(root, "docker-config")
	if err := os.MkdirAll(cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	logins := `{"auths": {"localhost:5999": {"auth": "dXNlcjpwYXNz"}, "helper.example": {}}, "credsStore": "none-here"}`
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(logins), 0o600); err != nil {
		t.Fatal(err)
	}
	apiServerAt(t, root, filepath.Join(root, "run", "docker.sock"))
	got := mustEngine(t, root, "run", "--rm", "--name", "inside", "--use-api-socket", "-v", "/usr/local/bin/docker:/usr/bin/docker:ro", "busybox:it",
		"sh", "-c", "echo $DOCKER_CONFIG; tr -d ' \\t\\n' < /run/secrets/docker/config.json; echo; docker ps --format '{{.Names}}'")
	want := "/run/secrets/docker\n" + `{"auths":{"localhost:5999":{"auth":"dXNlcjpwYXNz"}}}` + "\ninside\n"
	if got != want {
		t.Fatalf("inside: %q, want %q", got, want)
	}
}

// TestContextsAreTheDockerCLIs: berth's context verbs keep the docker
// CLI's own store, so a context berth makes for berth serve's socket is
// one the docker CLI lists, uses and exports, and the other way round;
// both CLIs print the same.
func TestContextsAreTheDockerCLIs(t *testing.T) {
	requireDockerCLI(t)
	root := engineWithBusybox(t)
	sock, _ := apiServer(t, root)
	noHost := []string{"DOCKER_HOST="} // the context decides, not the environment
	dockerCtx := func(args ...string) string {
		t.Helper()
		r := docker(t, sock, noHost, args...)
		if r.code != 0 {
			t.Fatalf("docker %v: %d %s", args, r.code, r.stderr)
		}
		return r.stdout
	}
	if got := mustEngine(t, root, "context", "create", "berthctx", "--description", "berth serve", "--docker", "host=unix://"+sock); got != "berthctx\n" {
		t.Fatalf("context create: %q", got)
	}
	if got := dockerCtx("context", "ls", "--format", "{{.Name}} {{.DockerEndpoint}}"); !strings.Contains(got, "berthctx unix://"+sock+"\n") {
		t.Fatalf("the docker CLI's contexts: %q", got)
	}
	mustEngine(t, root, "context", "use", "berthctx")
	if got := dockerCtx("context", "show"); got != "berthctx\n" {
		t.Fatalf("docker context show: %q", got)
	}
	if got := dockerCtx("run", "--rm", "busybox:it", "echo", "via-context"); got != "via-context\n" {
		t.Fatalf("docker run through the context: %q", got)
	}
	for _, args := range [][]string{{"context", "ls"}, {"context", "ls", "--format", "json"}, {"context", "ls", "-q"}, {"context", "inspect", "berthctx"}, {"context", "show"}} {
		if got, want := mustEngine(t, root, args...), dockerCtx(args...); got != want {
			t.Fatalf("berth %v:\n%s\nthe docker CLI's:\n%s", args, got, want)
		}
	}
	// Export and import, both ways.
	mustEngine(t, root, "context", "export", "berthctx", filepath.Join(root, "b.ctx"))
	dockerCtx("context", "import", "fromberth", filepath.Join(root, "b.ctx"))
	dockerCtx("context", "create", "fromdocker", "--docker", "host=unix:///elsewhere.sock")
	dockerCtx("context", "export", "fromdocker", filepath.Join(root, "d.ctx"))
	mustEngine(t, root, "context", "import", "back", filepath.Join(root, "d.ctx"))
	if got := mustEngine(t, root, "context", "inspect", "-f", "{{.Endpoints.docker.Host}}", "fromberth", "back"); got != "unix://"+sock+"\nunix:///elsewhere.sock\n" {
		t.Fatalf("imported contexts: %q", got)
	}
	// Refusals: a context in use, a bad or taken name, an archive that
	// is none.
	if r := engine(t, root, "context", "rm", "berthctx"); r.code != 1 || !strings.Contains(r.stderr, `context "berthctx" is in use, set -f flag to force remove`) {
		t.Fatalf("rm of the context in use: %d %q", r.code, r.stderr)
	}
	for _, bad := range [][]string{{"create", "default"}, {"create", "-bad"}, {"create", "back"}, {"use", "nosuch"}, {"import", "x", filepath.Join(root, "docker-config", "config.json")}} {
		if r := engine(t, root, append([]string{"context"}, bad...)...); r.code == 0 {
			t.Fatalf("context %v: taken", bad)
		}
	}
	mustEngine(t, root, "context", "rm", "-f", "berthctx", "fromberth", "fromdocker", "back")
	if got := dockerCtx("context", "show"); got != "default\n" {
		t.Fatalf("after rm -f of the current context: %q", got)
	}
}
