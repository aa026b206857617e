package api

import (
	"context"
	"errors"
	"net/http"

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
	// What the session did not attach goes nowhere (/dev/null); with a
	// terminal there is only its one stream. The detach keys of a
	// session with a terminal are the engine's to watch for: it returns,
	// and the connection closes.
	var sio engine.ExecIO
	if a.stdout || a.tty {
		sio.Stdout = out.stdout()
	}
	if a.stderr && !a.tty {
		sio.Stderr = out.stderr()
	}
	if a.stdin {
		sio.Stdin = rw.Reader
	}
	_, err = s.e.ExecStartIO(r.Context(), id, sio, o)
	if errors.Is(err, engine.ErrDetached) {
		err = nil // the client's choice: the connection closes, the session runs on
	}
	if err != nil {
		_, _ = out.stderr().Write([]byte(err.Error() + "\n")) // the stream is the answer now
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
