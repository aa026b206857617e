package api

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	mobyevents "github.com/moby/moby/api/types/events"
	mobynetwork "github.com/moby/moby/api/types/network"
	mobyvolume "github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/engine"
)

// Networks, volumes, events, disk usage and prunes: each a few lines
// over the engine.

func (s *Server) objectRoutes() {
	m := s.mux
	m.HandleFunc("GET /networks", s.networkList)
	m.HandleFunc("GET /networks/{id}", s.networkInspect)
	m.HandleFunc("POST /networks/create", s.networkCreate)
	m.HandleFunc("DELETE /networks/{id}", s.networkRemove)
	m.HandleFunc("POST /networks/{id}/connect", s.networkConnect)
	m.HandleFunc("POST /networks/{id}/disconnect", s.networkDisconnect)
	m.HandleFunc("POST /networks/prune", s.networksPrune)

	m.HandleFunc("GET /volumes", s.volumeList)
	m.HandleFunc("POST /volumes/create", s.volumeCreate)
	m.HandleFunc("GET /volumes/{name}", s.volumeInspect)
	m.HandleFunc("DELETE /volumes/{name}", s.volumeRemove)
	m.HandleFunc("POST /volumes/prune", s.volumesPrune)

	m.HandleFunc("GET /events", s.events)
	m.HandleFunc("GET /system/df", s.diskUsage)
	m.HandleFunc("POST /containers/prune", s.containersPrune)
	m.HandleFunc("POST /images/prune", s.imagesPrune)
	m.HandleFunc("GET /containers/{id}/top", s.containerTop)
	m.HandleFunc("GET /containers/{id}/stats", s.containerStats)
	m.HandleFunc("GET /containers/{id}/changes", s.containerChanges)
	m.HandleFunc("GET /containers/{id}/export", s.containerExport)
	m.HandleFunc("POST /containers/{id}/pause", s.simple(func(r *http.Request) error { return s.e.ContainerPause(r.PathValue("id")) }))
	m.HandleFunc("POST /containers/{id}/unpause", s.simple(func(r *http.Request) error { return s.e.ContainerUnpause(r.PathValue("id")) }))
	m.HandleFunc("POST /containers/{id}/rename", s.simple(func(r *http.Request) error {
		return s.e.ContainerRename(r.PathValue("id"), r.URL.Query().Get("name"))
	}))
	m.HandleFunc("POST /containers/{id}/update", s.containerUpdate)
	m.HandleFunc("POST /commit", s.commit)
	m.HandleFunc("GET /plugins", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, []any{}) })
	// Not a swarm manager, as a daemon outside a swarm answers.
	for _, p := range []string{"/swarm", "/services", "/nodes", "/tasks", "/secrets", "/configs"} {
		m.HandleFunc(p, notSwarm)
		m.HandleFunc(p+"/", notSwarm)
	}
}

func notSwarm(w http.ResponseWriter, _ *http.Request) {
	writeError(w, httpError(http.StatusServiceUnavailable, fmt.Errorf("This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.")))
}

func (s *Server) networkList(w http.ResponseWriter, r *http.Request) { listed(w, r, s.e.NetworkList) }

func (s *Server) networkInspect(w http.ResponseWriter, r *http.Request) {
	n, err := s.e.NetworkInspect(r.PathValue("id"))
	reply(w, http.StatusOK, n, err)
}

func (s *Server) networkCreate(w http.ResponseWriter, r *http.Request) {
	var req mobynetwork.CreateRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	o := engine.NetworkCreateOptions{Name: req.Name, Driver: req.Driver, Internal: req.Internal, Labels: req.Labels, Options: req.Options,
		Attachable: req.Attachable, Scope: req.Scope}
	if req.Ingress || req.ConfigOnly || req.ConfigFrom != nil {
		writeError(w, badRequest(errors.New("ingress and config-only networks are Swarm's: berth has none")))
		return
	}
	if req.IPAM != nil {
		o.IPAMDriver, o.IPAMOptions = req.IPAM.Driver, req.IPAM.Options
	}
	if req.EnableIPv4 != nil && !*req.EnableIPv4 {
		writeError(w, badRequest(errors.New("IPv6-only networks (EnableIPv4 false) are not supported: berth networks have IPv4")))
		return
	}
	if req.IPAM != nil {
		if err := ipamConfigs(req.IPAM.Config, &o); err != nil {
			writeError(w, err)
			return
		}
	}
	// Unset, it follows the IPAM configs: an IPv6 pool asks for IPv6.
	o.EnableIPv6 = o.Subnet6 != "" || o.Gateway6 != "" || o.IPRange6 != ""
	if req.EnableIPv6 != nil {
		o.EnableIPv6 = *req.EnableIPv6
	}
	id, err := s.e.NetworkCreate(o)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, mobynetwork.CreateResponse{ID: id})
}

// ipamConfigs reads a network's IPAM configs: one per family, each
// with its subnet, gateway and range (aux addresses of IPv4).
func ipamConfigs(cfgs []mobynetwork.IPAMConfig, o *engine.NetworkCreateOptions) error {
	seen := map[bool]bool{}
	for _, c := range cfgs {
		v6 := c.Subnet.Addr().Is6() || c.Gateway.Is6() || c.IPRange.Addr().Is6()
		if seen[v6] {
			return badRequest(errors.New("IPAM: one config per address family"))
		}
		seen[v6] = true
		str := func(v interface {
			IsValid() bool
			String() string
		}) string {
			if v.IsValid() {
				return v.String()
			}
			return ""
		}
		if v6 {
			o.Subnet6, o.Gateway6, o.IPRange6 = str(c.Subnet), str(c.Gateway), str(c.IPRange)
			continue
		}
		o.Subnet, o.Gateway, o.IPRange = str(c.Subnet), str(c.Gateway), str(c.IPRange)
		for name, a := range c.AuxAddress {
			if o.AuxAddresses == nil {
				o.AuxAddresses = map[string]string{}
			}
			o.AuxAddresses[name] = a.String()
		}
	}
	return nil
}

func (s *Server) networkRemove(w http.ResponseWriter, r *http.Request) {
	s.simple(func(r *http.Request) error { return s.e.NetworkRemove(r.PathValue("id")) })(w, r)
}

func (s *Server) networkConnect(w http.ResponseWriter, r *http.Request) {
	var req mobynetwork.ConnectRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	var o engine.EndpointOptions
	if ep := req.EndpointConfig; ep != nil {
		o.Aliases, o.Links, o.DriverOpts, o.GwPriority = ep.Aliases, ep.Links, ep.DriverOpts, ep.GwPriority
		if len(ep.MacAddress) > 0 {
			o.MAC = net.HardwareAddr(ep.MacAddress).String()
		}
		if ep.IPAMConfig != nil {
			if ep.IPAMConfig.IPv4Address.IsValid() {
				o.IP = ep.IPAMConfig.IPv4Address.String()
			}
			if ep.IPAMConfig.IPv6Address.IsValid() {
				o.IP6 = ep.IPAMConfig.IPv6Address.String()
			}
			for _, ll := range ep.IPAMConfig.LinkLocalIPs {
				o.LinkLocalIPs = append(o.LinkLocalIPs, ll.String())
			}
		}
	}
	if err := s.e.NetworkConnect(r.PathValue("id"), req.Container, o); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) networkDisconnect(w http.ResponseWriter, r *http.Request) {
	var req mobynetwork.DisconnectRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := s.e.NetworkDisconnect(r.PathValue("id"), req.Container); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) networksPrune(w http.ResponseWriter, r *http.Request) {
	listed(w, r, s.e.NetworksPrune)
}

func (s *Server) volumeList(w http.ResponseWriter, r *http.Request) {
	listed(w, r, func(f engine.Filters) (mobyvolume.ListResponse, error) {
		vs, err := s.e.VolumeList(f)
		return mobyvolume.ListResponse{Volumes: vs, Warnings: []string{}}, err
	})
}

func (s *Server) volumeCreate(w http.ResponseWriter, r *http.Request) {
	var req mobyvolume.CreateRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	v, err := s.e.VolumeCreate(engine.VolumeCreateOptions{Name: req.Name, Driver: req.Driver, Labels: req.Labels, DriverOpts: req.DriverOpts})
	reply(w, http.StatusCreated, v, err)
}

func (s *Server) volumeInspect(w http.ResponseWriter, r *http.Request) {
	v, err := s.e.VolumeInspect(r.PathValue("name"))
	reply(w, http.StatusOK, v, err)
}

func (s *Server) volumeRemove(w http.ResponseWriter, r *http.Request) {
	s.simple(func(r *http.Request) error { return s.e.VolumeRemove(r.PathValue("name"), boolValue(r, "force")) })(w, r)
}

func (s *Server) volumesPrune(w http.ResponseWriter, r *http.Request) { listed(w, r, s.e.VolumesPrune) }

func (s *Server) containersPrune(w http.ResponseWriter, r *http.Request) {
	listed(w, r, func(f engine.Filters) (mobycontainer.PruneReport, error) { return s.e.ContainersPrune(r.Context(), f) })
}

func (s *Server) imagesPrune(w http.ResponseWriter, r *http.Request) { listed(w, r, s.e.ImagesPrune) }

func (s *Server) diskUsage(w http.ResponseWriter, r *http.Request) {
	du, err := s.e.SystemDiskUsage()
	if err != nil {
		writeError(w, err)
		return
	}
	if !before(r, "1.52") {
		writeJSON(w, http.StatusOK, du)
		return
	}
	// Before 1.52 the answer is the lists themselves, as the docker CLI
	// 28 reads them.
	legacy := map[string]any{"LayersSize": int64(0), "Images": []any{}, "Containers": []any{}, "Volumes": []any{}, "BuildCache": []any{}}
	if u := du.ImageUsage; u != nil {
		legacy["LayersSize"], legacy["Images"] = u.TotalSize, orEmptyList(u.Items)
	}
	if u := du.ContainerUsage; u != nil {
		legacy["Containers"] = orEmptyList(u.Items)
	}
	if u := du.VolumeUsage; u != nil {
		legacy["Volumes"] = orEmptyList(u.Items)
	}
	if u := du.BuildCacheUsage; u != nil {
		legacy["BuildCache"] = orEmptyList(u.Items)
	}
	writeJSON(w, http.StatusOK, legacy)
}

func orEmptyList[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}

// events streams the journal's events as JSON, one per line, from since
// (none before: only new ones) until until (none: until the client goes).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	f, err := filtersOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	o := engine.EventsOptions{Filters: f}
	if v := q.Get("since"); v != "" {
		o.Since = eventTime(v)
	}
	if v := q.Get("until"); v != "" {
		o.Until = eventTime(v)
	}
	openStream(w, "application/json")
	// The stream is the answer: it ends when the client goes.
	_ = s.e.SystemEvents(r.Context(), o, func(m mobyevents.Message) error { return sendJSON(w, m) })
}

// eventTime reads a since/until value: Unix seconds (with a fraction)
// or RFC 3339.
func eventTime(v string) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t
	}
	return unixTime(v)
}

func (s *Server) containerTop(w http.ResponseWriter, r *http.Request) {
	top, err := s.e.ContainerTop(r.PathValue("id"), r.URL.Query().Get("ps_args"))
	reply(w, http.StatusOK, top, err)
}

// containerStats answers one sample, or (stream, the default) one a
// second until the client goes.
func (s *Server) containerStats(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	stream := true
	if v := r.URL.Query().Get("stream"); v != "" {
		stream, _ = strconv.ParseBool(v)
	}
	st, err := s.e.ContainerStats(id)
	if err != nil {
		writeError(w, err)
		return
	}
	if !stream {
		writeJSON(w, http.StatusOK, st)
		return
	}
	openStream(w, "application/json")
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if sendJSON(w, st) != nil {
			return // the client went away
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
		if st, err = s.e.ContainerStats(id); err != nil {
			return // the container went: the stream ends
		}
	}
}

func (s *Server) containerChanges(w http.ResponseWriter, r *http.Request) {
	ch, err := s.e.ContainerChanges(r.PathValue("id"))
	reply(w, http.StatusOK, ch, err)
}

func (s *Server) containerExport(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.e.ContainerInspect(id); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	// Headers are sent: a failure can only cut the tar short.
	_ = s.e.ContainerExport(id, w)
}

func (s *Server) containerUpdate(w http.ResponseWriter, r *http.Request) {
	var u mobycontainer.UpdateConfig
	if err := decode(r, &u); err != nil {
		writeError(w, err)
		return
	}
	resp, err := s.e.ContainerUpdate(r.PathValue("id"), u)
	reply(w, http.StatusOK, resp, err)
}

// commit is POST /commit?container=…&repo=…&tag=…: docker commit.
func (s *Server) commit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ref := q.Get("repo")
	if ref != "" && q.Get("tag") != "" {
		ref += ":" + q.Get("tag")
	}
	o := engine.CommitOptions{Ref: ref, Message: q.Get("comment"), Author: q.Get("author"), Changes: q["changes"], Pause: true}
	if v := q.Get("pause"); v != "" {
		o.Pause = boolValue(r, "pause")
	}
	c, err := s.e.ContainerInspect(q.Get("container"))
	if err != nil {
		writeError(w, err)
		return
	}
	// Only a running container is paused (inspect reads its state anew).
	o.Pause = o.Pause && c.State != nil && c.State.Running
	id, err := s.e.ContainerCommit(r.Context(), c.ID, o)
	reply(w, http.StatusCreated, map[string]string{"Id": id}, err)
}
