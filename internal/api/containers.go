package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	mobynetwork "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/engine"
)

func (s *Server) containerCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		mobycontainer.CreateRequest
		// MacAddress is the deprecated place of the first network's MAC,
		// which clients before API 1.44 (and docker-py 7) still use.
		MacAddress string
	}
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	o := engine.CreateOptions{Name: r.URL.Query().Get("name")}
	if req.Config != nil {
		o.Config = *req.Config
	}
	if req.HostConfig != nil {
		o.HostConfig = *req.HostConfig
	}
	if req.NetworkingConfig != nil {
		o.Networking = *req.NetworkingConfig
	}
	if req.MacAddress != "" {
		if err := legacyMAC(&o, req.MacAddress); err != nil {
			writeError(w, err)
			return
		}
	}
	resp, err := s.e.ContainerCreate(r.Context(), o)
	if err != nil {
		writeError(w, err)
		return
	}
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	writeJSON(w, http.StatusCreated, resp)
}

// legacyMAC moves Config.MacAddress to the endpoint of the container's
// network, as moby migrates it.
func legacyMAC(o *engine.CreateOptions, mac string) error {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return badRequest(fmt.Errorf("invalid MAC address %q", mac))
	}
	mode := string(o.HostConfig.NetworkMode)
	if mode == "" || mode == "default" {
		mode = "bridge"
	}
	if o.Networking.EndpointsConfig == nil {
		o.Networking.EndpointsConfig = map[string]*mobynetwork.EndpointSettings{}
	}
	es := o.Networking.EndpointsConfig[mode]
	if es == nil {
		es = &mobynetwork.EndpointSettings{}
		o.Networking.EndpointsConfig[mode] = es
	}
	if len(es.MacAddress) == 0 {
		es.MacAddress = mobynetwork.HardwareAddr(hw)
	}
	return nil
}

func (s *Server) containerList(w http.ResponseWriter, r *http.Request) {
	listed(w, r, func(f engine.Filters) ([]mobycontainer.Summary, error) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit")) // none or garbage: no limit, as moby reads it
		return s.e.ContainerList(engine.ListOptions{All: boolValue(r, "all"), Filters: f, Limit: limit, Size: boolValue(r, "size")})
	})
}

func (s *Server) containerInspect(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.ContainerInspect(r.PathValue("id"))
	if err == nil && before(r, "1.45") && c.NetworkSettings != nil {
		// Older APIs list the container's short ID among the aliases of
		// its user-defined networks, as moby did.
		short := c.ID[:12]
		for name, ep := range c.NetworkSettings.Networks {
			if ep != nil && name != "bridge" && name != "host" && name != "none" && !slices.Contains(ep.Aliases, short) {
				ep.Aliases = append(ep.Aliases, short)
			}
		}
	}
	if err == nil && boolValue(r, "size") {
		var rw, rootfs int64
		if rw, rootfs, err = s.e.ContainerSize(c.ID); err == nil {
			c.SizeRw, c.SizeRootFs = &rw, &rootfs
		}
	}
	reply(w, http.StatusOK, c, err)
}

// containerStart starts a container. Clients attached before the start
// (docker run) get its output from the first byte: the start runs the
// container attached to them, and is answered once it runs.
func (s *Server) containerStart(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.ContainerInspect(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if c.State != nil && c.State.Running {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.mu.Lock()
	waiting := s.attaches[c.ID]
	delete(s.attaches, c.ID)
	s.mu.Unlock()
	if len(waiting) == 0 {
		if err := s.e.ContainerStart(r.Context(), c.ID); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// started has how the start went; ended, once the run is over, the
	// engine's error for it (a failed start's, its --rm removal done).
	started, ended := make(chan error, 1), make(chan error, 1)
	streams := fanOut(waiting)
	streams.Started = func(err error) { started <- err }
	streams.Resizes = s.resizer(c.ID)
	go func() {
		// The container's run outlives this request: it ends with the
		// container.
		_, err := s.e.ContainerStartAttached(context.Background(), c.ID, streams)
		s.dropResizer(c.ID)
		select {
		case started <- err: // failed before it could say how the start went
		default:
		}
		ended <- err
		for _, a := range waiting {
			a.finish()
		}
	}()
	if err := <-started; err != nil {
		writeError(w, <-ended)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func timeoutOf(r *http.Request) (*int, error) {
	v := r.URL.Query().Get("t")
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, badRequest(fmt.Errorf("invalid value for t: %s", v))
	}
	return &n, nil
}

func (s *Server) containerStop(w http.ResponseWriter, r *http.Request) {
	t, err := timeoutOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	c, err := s.e.ContainerInspect(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if c.State == nil || !c.State.Running {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if err := s.e.ContainerStop(r.Context(), c.ID, engine.StopOptions{Timeout: t, Signal: r.URL.Query().Get("signal")}); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerRestart(r *http.Request) error {
	t, err := timeoutOf(r)
	if err != nil {
		return err
	}
	return s.e.ContainerRestart(r.Context(), r.PathValue("id"), engine.StopOptions{Timeout: t, Signal: r.URL.Query().Get("signal")})
}

func (s *Server) containerKill(r *http.Request) error {
	sig := r.URL.Query().Get("signal")
	if sig == "" {
		sig = "KILL"
	}
	return s.e.ContainerKill(r.PathValue("id"), sig)
}

// containerWait sends its headers at once and the body when the
// condition is met: the docker CLI waits for the headers before it
// sends the start.
func (s *Server) containerWait(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.e.ContainerInspect(id); err != nil {
		writeError(w, err)
		return
	}
	openStream(w, "application/json")
	resp, err := s.e.ContainerWait(r.Context(), id, engine.WaitCondition(r.URL.Query().Get("condition")))
	if err != nil {
		resp = mobycontainer.WaitResponse{StatusCode: -1, Error: &mobycontainer.WaitExitError{Message: err.Error()}}
	}
	_ = sendJSON(w, resp) // the client went away: nobody to tell
}

func (s *Server) containerRemove(r *http.Request) error {
	return s.e.ContainerRemove(r.Context(), r.PathValue("id"), engine.RemoveOptions{Force: boolValue(r, "force"), Volumes: boolValue(r, "v")})
}

func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.ContainerInspect(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	o := engine.LogsOptions{Follow: boolValue(r, "follow"), Timestamps: boolValue(r, "timestamps"), Tail: q.Get("tail")}
	if v := q.Get("since"); v != "" && v != "0" {
		o.Since = unixTime(v)
	}
	if v := q.Get("until"); v != "" && v != "0" {
		o.Until = unixTime(v)
	}
	tty := c.Config != nil && c.Config.Tty
	openStream(w, streamType(tty))
	out := newStreamWriter(w, tty)
	stdout, stderr := out.stdout(), out.stderr()
	if !boolValue(r, "stdout") {
		stdout = nil
	}
	if !boolValue(r, "stderr") {
		stderr = nil
	}
	// Headers are sent: a failure can only end the stream.
	_ = s.e.ContainerLogs(r.Context(), c.ID, o, orDiscard(stdout), orDiscard(stderr))
}

// unixTime reads Docker's seconds[.nanoseconds] timestamps.
func unixTime(v string) time.Time {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return time.Time{}
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9))
}

func (s *Server) containerResize(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.ContainerInspect(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	s.resize(c.ID, r)
	w.WriteHeader(http.StatusOK)
}

// resize passes the request's h and w to the terminal waiting on key,
// if one is.
func (s *Server) resize(key string, r *http.Request) {
	rows, _ := strconv.Atoi(r.URL.Query().Get("h"))
	cols, _ := strconv.Atoi(r.URL.Query().Get("w"))
	if rows <= 0 || cols <= 0 || rows > 0xffff || cols > 0xffff {
		return // not a size: nothing to pass on
	}
	s.mu.Lock()
	ch := s.resizes[key]
	s.mu.Unlock()
	if ch != nil {
		select {
		case ch <- [2]uint16{uint16(rows), uint16(cols)}:
		default: // a resize is pending: the newer one comes next
		}
	}
}

// resizer is the channel resizes of container id reach its terminal by.
func (s *Server) resizer(id string) chan [2]uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan [2]uint16, 1)
	s.resizes[id] = ch
	return ch
}

func (s *Server) dropResizer(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.resizes, id)
}
