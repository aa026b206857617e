package cri

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	goruntime "runtime"
	"strconv"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/berth-project/berth/internal/engine"
)

// Exec, Attach and PortForward answer with a URL of the streaming server
// (k8s.io/cri-streaming: SPDY and WebSocket, on 127.0.0.1), which calls
// back into streamRuntime once the client connects.

// startStreaming starts the streaming server on a loopback port.
func (s *Server) startStreaming() error {
	cfg := streaming.DefaultConfig
	cfg.Addr = "127.0.0.1:0"
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("streaming server: %w", err)
	}
	cfg.Addr = l.Addr().String()
	srv, err := streaming.NewServer(cfg, streamRuntime{s.e})
	if err != nil {
		_ = l.Close() // unused; the server's error is the one to report
		return fmt.Errorf("streaming server: %w", err)
	}
	s.streams = srv
	go func() {
		// Serves until the process ends; a failure leaves Exec, Attach
		// and PortForward's clients unanswered, each with its error.
		_ = http.Serve(l, srv)
	}()
	return nil
}

// Exec gives the URL of an exec session in a running container.
func (s *Server) Exec(_ context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	if _, err := s.criContainer(req.ContainerId); err != nil {
		return nil, grpcError(err)
	}
	if len(req.Cmd) == 0 {
		return nil, invalid("Exec: no command given")
	}
	return s.streams.GetExec(req)
}

// Attach gives the URL of an attachment to a container's process.
func (s *Server) Attach(_ context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	if _, err := s.criContainer(req.ContainerId); err != nil {
		return nil, grpcError(err)
	}
	return s.streams.GetAttach(req)
}

// PortForward gives the URL that forwards to ports of a pod.
func (s *Server) PortForward(_ context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	if _, err := s.sandbox(req.PodSandboxId); err != nil {
		return nil, grpcError(err)
	}
	return s.streams.GetPortForward(req)
}

// streamRuntime is what the streaming server runs.
type streamRuntime struct{ e *engine.Engine }

// sizes turns the client's terminal sizes into the engine's (rows,
// cols), until resize closes.
func sizes(resize <-chan remotecommandserver.TerminalSize) <-chan [2]uint16 {
	if resize == nil {
		return nil
	}
	out := make(chan [2]uint16, 1)
	go func() {
		defer close(out)
		for sz := range resize {
			out <- [2]uint16{sz.Height, sz.Width}
		}
	}()
	return out
}

// Exec runs cmd in a container with the client's streams; a code other
// than 0 is an ExitError, which the server sends the client.
func (r streamRuntime) Exec(ctx context.Context, id string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	eid, err := r.e.ExecCreate(id, engine.ExecConfig{Cmd: cmd, Tty: tty})
	if err != nil {
		return err
	}
	sio := engine.ExecIO{Stdin: in}
	if out != nil {
		sio.Stdout = out
	}
	if errw != nil && !tty {
		sio.Stderr = errw
	}
	code, err := r.e.ExecStartIO(ctx, eid, sio, engine.ExecStartOptions{Resizes: sizes(resize)})
	var se *engine.StatusError
	if errors.As(err, &se) {
		return utilexec.CodeExitError{Err: se.Err, Code: se.Status}
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return nil
}

// Attach attaches the client's streams to a container's process.
func (r streamRuntime) Attach(ctx context.Context, id string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	st := engine.Streams{Stdin: in, Resizes: sizes(resize)}
	if out != nil {
		st.Stdout = out
	}
	if errw != nil {
		st.Stderr = errw
	}
	_, err := r.e.ContainerAttach(ctx, id, st)
	return err
}

// PortForward connects stream to port on the pod's loopback: the
// connection is made inside the pod's network namespace, as kubectl
// port-forward expects.
func (r streamRuntime) PortForward(ctx context.Context, podID string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close() // the forward ends with either side
	in, err := r.e.ContainerInspect(podID)
	if err != nil {
		return err
	}
	if !in.State.Running || in.State.Pid == 0 {
		return fmt.Errorf("pod sandbox %s is not running", podID)
	}
	conn, err := dialIn("/proc/"+strconv.Itoa(in.State.Pid)+"/ns/net", "127.0.0.1:"+strconv.Itoa(int(port)))
	if err != nil {
		return fmt.Errorf("port forward to %d in pod %s: %w", port, podID, err)
	}
	defer conn.Close() // the forward ends with either side
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(conn, stream); done <- struct{}{} }() // the client's bytes to the pod
	go func() { _, _ = io.Copy(stream, conn); done <- struct{}{} }() // and back
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

// dialIn dials addr from inside the network namespace at nsPath: on a
// thread of its own, which enters the namespace and, holding the
// socket, is never handed back to Go's scheduler (it ends with its
// goroutine).
func dialIn(nsPath, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		goruntime.LockOSThread() // not unlocked: the thread is in another namespace now
		fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		_ = unix.Close(fd) // the namespace is entered or not; the fd is done
		if err != nil {
			ch <- result{nil, err}
			return
		}
		c, err := net.Dial("tcp", addr)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
