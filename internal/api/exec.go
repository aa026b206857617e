package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync"

	mobycontainer "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/attach"
	"github.com/berth-project/berth/internal/engine"
)

// execAttach is what an exec session's start streams: whether it has a
// terminal and takes input, as created.
type execAttach struct {
	tty, stdin, stdout, stderr bool
	detachKeys                 string
}

func (s *Server) execCreate(w http.ResponseWriter, r *http.Request) {
	var req mobycontainer.ExecCreateRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.DetachKeys != "" {
		// Refused here, as moby refuses them, rather than at the start.
		if _, err := attach.ParseDetachKeys(req.DetachKeys); err != nil {
			writeError(w, badRequest(err))
			return
		}
	}
	id, err := s.e.ExecCreate(r.PathValue("id"), engine.ExecConfig{Cmd: req.Cmd, Env: req.Env, User: req.User, WorkingDir: req.WorkingDir, Tty: req.Tty, Privileged: req.Privileged})
	if err != nil {
		writeError(w, err)
		return
	}
	s.mu.Lock()
	s.execs[id] = execAttach{tty: req.Tty, stdin: req.AttachStdin, stdout: req.AttachStdout, stderr: req.AttachStderr, detachKeys: req.DetachKeys}
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, mobycontainer.ExecCreateResponse{ID: id})
}

func (s *Server) execInspect(w http.ResponseWriter, r *http.Request) {
	in, err := s.e.ExecInspect(r.PathValue("id"))
	reply(w, http.StatusOK, in, err)
}

// execStart runs the session: detached, or on the hijacked connection,
// its output in frames (raw with a terminal). The session's monitor
// gets pipes, which are copied to and from the connection.
func (s *Server) execStart(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req mobycontainer.ExecStartRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if _, err := s.e.ExecInspect(id); err != nil {
		writeError(w, err)
		return
	}
	s.mu.Lock()
	a := s.execs[id]
	delete(s.execs, id)
	s.mu.Unlock()
	o := engine.ExecStartOptions{Detach: req.Detach, DetachKeys: a.detachKeys}
	if req.ConsoleSize != nil {
		o.ConsoleSize = [2]uint16{uint16(req.ConsoleSize[0]), uint16(req.ConsoleSize[1])}
	}
	if a.tty && !req.Detach {
		o.Resizes = s.resizer(execResizeKey(id))
		defer s.dropResizer(execResizeKey(id))
	}
	if req.Detach {
		if _, err := s.e.ExecStart(context.Background(), id, o); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	// The start's Tty decides the framing, as moby's does: a session
	// with a terminal started without it is sent in frames.
	conn, rw, err := hijack(w, r, req.Tty)
	if err != nil {
		return // the client is gone
	}
	defer conn.Close() // EOF for the client: the session has ended
	out := newStreamWriter(rw, req.Tty)
	var copies sync.WaitGroup
	var ours []*os.File // our ends of the writers, closed once the session ends
	pipeOut := func(dst io.Writer) (*os.File, error) {
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		copies.Add(1)
		go func() {
			defer copies.Done()
			defer pr.Close()        // read to its end
			_, _ = io.Copy(dst, pr) // the client gone: the rest is dropped
		}()
		ours = append(ours, pw)
		return pw, nil
	}
	fail := func(err error) {
		_, _ = out.stderr().Write([]byte(err.Error() + "\n")) // the stream is the answer now
	}
	// What the session did not attach goes nowhere (/dev/null); with a
	// terminal there is only its one stream.
	if a.stdout || a.tty {
		if o.Stdout, err = pipeOut(out.stdout()); err != nil {
			fail(err)
			return
		}
	}
	if a.stderr && !a.tty {
		if o.Stderr, err = pipeOut(out.stderr()); err != nil {
			fail(err)
			return
		}
	}
	if a.stdin {
		pr, pw, err := os.Pipe()
		if err != nil {
			fail(err)
			return
		}
		defer pr.Close() // the session's monitor holds its copy
		defer pw.Close() // a detached client's: the input ends with the session
		go func() {
			// Until the client closes its side. The detach keys of a
			// session with a terminal are the engine's to watch for: it
			// returns, and the connection closes.
			_, _ = io.Copy(pw, rw.Reader) // a client gone ends the input as EOF does
			_ = pw.Close()                // EOF for the session's input
		}()
		o.Stdin = pr
	}
	_, err = s.e.ExecStart(r.Context(), id, o)
	if errors.Is(err, engine.ErrDetached) {
		err = nil // the client's choice: the connection closes, the session runs on
	}
	for _, f := range ours {
		_ = f.Close() // the session's own copies keep the pipes open until it ends
	}
	copies.Wait()
	if err != nil {
		fail(err)
	}
}

// execResizeKey is where an exec session's resizes wait, apart from
// its container's.
func execResizeKey(id string) string { return "exec:" + id }

func (s *Server) execResize(w http.ResponseWriter, r *http.Request) {
	in, err := s.e.ExecInspect(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	s.resize(execResizeKey(in.ID), r)
	w.WriteHeader(http.StatusOK)
}
