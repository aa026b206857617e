package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// The Engine API rows: the same docker CLI against `berth serve`,
// dockerd and `podman system service`, each server over the storage of
// the engine rows.

// apiServers are the API servers the harness started, by peer.
type apiServers struct {
	socks map[string]string
	cmds  []*exec.Cmd
}

// apiCLI is the docker CLI against peer's API socket, the server
// started on first use.
func (e *env) apiCLI(peer string) ([]string, string) {
	if why := e.skip[peer]; why != "" {
		return nil, why
	}
	if e.api.socks == nil {
		e.api.socks = map[string]string{}
	}
	if peer == "docker" {
		if e.docker == nil {
			return nil, "dockerd did not start"
		}
		return e.docker, ""
	}
	if sock, ok := e.api.socks[peer]; ok {
		return []string{"docker", "-H", "unix://" + sock}, ""
	}
	sock := filepath.Join(e.work, peer+"-api.sock")
	var cmd *exec.Cmd
	switch peer {
	case "berth":
		if e.engine == nil {
			return nil, "the engine did not set up"
		}
		cmd = exec.Command(e.engine[0], append(e.engine[1:], "serve", "-H", "unix://"+sock)...)
	case "podman":
		if e.podman == nil {
			return nil, "podman did not set up"
		}
		cmd = exec.Command(e.podman[0], append(e.podman[1:], "system", "service", "--time=0", "unix://"+sock)...)
	default:
		return nil, "not an engine with an API"
	}
	logf, _ := os.Create(filepath.Join(e.work, peer+"-api.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, "the API server did not start: " + err.Error()
	}
	e.api.cmds = append(e.api.cmds, cmd)
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if i == 300 {
			return nil, "the API server did not listen: " + lastLine(filepath.Join(e.work, peer+"-api.log"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.api.socks[peer] = sock
	return []string{"docker", "-H", "unix://" + sock}, ""
}

// stopAPIServers ends the servers the harness started, by their PIDs.
func (e *env) stopAPIServers() {
	for _, c := range e.api.cmds {
		_ = c.Process.Signal(syscall.SIGTERM) // ours
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }() // signalled: its status says so
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL) // its group: ours
		}
	}
}

// apiRunOp times `docker run --rm IMAGE /bin/true` through peer's API.
func (e *env) apiRunOp(peer string) (*op, string) {
	cli, why := e.apiCLI(peer)
	if cli == nil {
		return nil, why
	}
	a := append(append([]string(nil), cli...), "run", "--rm", "--network", "none")
	if peer == "podman" {
		a = append(a, "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096")
	}
	a = append(a, image, "/bin/true")
	return &op{once: func(int) (time.Duration, error) { return e.timed("", a...) }}, ""
}

// apiExecOp times `docker exec CONTAINER /bin/true` through peer's API.
func (e *env) apiExecOp(peer string) (*op, string) {
	cli, why := e.apiCLI(peer)
	if cli == nil {
		return nil, why
	}
	return e.cliExecOp(peer, cli, "bench-"+peer+"-api-exec"), ""
}
