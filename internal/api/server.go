// Package api serves the Docker Engine API over the engine: a front end
// beside the CLI, so that the docker CLI, docker-py and docker compose
// drive berth. Each endpoint decodes moby's request types, calls the
// engine, and writes moby's response types; the engine's kinds of error
// become Docker's statuses. The server owns no container: containers
// belong to their monitors, so stopping it stops none, and the CLI and
// the socket see the same state.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/berth-project/berth/internal/trace"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/berth-project/berth/internal/engine"
)

// The API versions served: the newest announced, the oldest accepted.
const (
	APIVersion    = "1.51"
	MinAPIVersion = "1.24"
)

// Server is the API over one engine.
type Server struct {
	e       *engine.Engine
	version string // berth's, for /version
	mux     *http.ServeMux

	mu sync.Mutex
	// attaches are clients attached to a container that has not
	// started: its start feeds them (docker run attaches first).
	attaches map[string][]*attachment
	// resizes reach the terminal of a container a client is attached to.
	resizes map[string]chan [2]uint16
	// execs are what exec sessions created and not yet started attach.
	execs map[string]execAttach
}

// New is a server over e; version is berth's own.
func New(e *engine.Engine, version string) *Server {
	s := &Server{e: e, version: version, mux: http.NewServeMux(), attaches: map[string][]*attachment{}, resizes: map[string]chan [2]uint16{},
		execs: map[string]execAttach{}}
	s.routes()
	return s
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /_ping", s.ping)
	m.HandleFunc("HEAD /_ping", s.ping)
	m.HandleFunc("GET /version", s.versionInfo)
	m.HandleFunc("GET /info", s.info)

	m.HandleFunc("POST /containers/create", s.containerCreate)
	m.HandleFunc("GET /containers/json", s.containerList)
	m.HandleFunc("GET /containers/{id}/json", s.containerInspect)
	m.HandleFunc("POST /containers/{id}/start", s.containerStart)
	m.HandleFunc("POST /containers/{id}/stop", s.containerStop)
	m.HandleFunc("POST /containers/{id}/restart", s.simple(s.containerRestart))
	m.HandleFunc("POST /containers/{id}/kill", s.simple(s.containerKill))
	m.HandleFunc("POST /containers/{id}/wait", s.containerWait)
	m.HandleFunc("POST /containers/{id}/attach", s.containerAttach)
	m.HandleFunc("POST /containers/{id}/resize", s.containerResize)
	m.HandleFunc("GET /containers/{id}/logs", s.containerLogs)
	m.HandleFunc("DELETE /containers/{id}", s.simple(s.containerRemove))
	// A legacy link is removed by its name, CONTAINER/ALIAS, and link=1.
	m.HandleFunc("DELETE /containers/{id}/{alias}", s.simple(func(r *http.Request) error {
		if !boolValue(r, "link") {
			return httpError(http.StatusNotFound, fmt.Errorf("page not found"))
		}
		return s.e.ContainerRemoveLink(r.PathValue("id") + "/" + r.PathValue("alias"))
	}))
	m.HandleFunc("POST /containers/{id}/exec", s.execCreate)
	m.HandleFunc("POST /exec/{id}/start", s.execStart)
	m.HandleFunc("POST /exec/{id}/resize", s.execResize)
	m.HandleFunc("GET /exec/{id}/json", s.execInspect)

	m.HandleFunc("GET /images/json", s.imageList)
	m.HandleFunc("POST /images/create", s.imagePull)
	m.HandleFunc("POST /images/load", s.imageLoad)
	m.HandleFunc("GET /images/get", s.imagesSave)
	// Image names hold slashes: the rest of these paths is parsed.
	m.HandleFunc("GET /images/", s.imageGet)
	m.HandleFunc("POST /images/", s.imagePost)
	m.HandleFunc("DELETE /images/", s.imageRemove)

	m.HandleFunc("POST /build", s.build)
	m.HandleFunc("POST /build/prune", s.buildPrune)
	s.objectRoutes()
	s.archiveRoutes()
	s.registryRoutes()
}

// versionPath is a request path under /vMAJOR.MINOR.
var versionPath = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`)

// ServeHTTP serves /vN.NN/… and unversioned paths alike, refusing a
// version outside the range served.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Api-Version", APIVersion)
	w.Header().Set("Server", "berth/"+s.version)
	w.Header().Set("Ostype", "linux")
	if m := versionPath.FindStringSubmatch(r.URL.Path); m != nil {
		if compareVersions(m[1], APIVersion) > 0 {
			writeError(w, httpError(http.StatusBadRequest, fmt.Errorf("client version %s is too new. Maximum supported API version is %s", m[1], APIVersion)))
			return
		}
		if compareVersions(m[1], MinAPIVersion) < 0 {
			writeError(w, httpError(http.StatusBadRequest, fmt.Errorf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", m[1], MinAPIVersion)))
			return
		}
		r2 := r.Clone(context.WithValue(r.Context(), versionKey{}, m[1]))
		r2.URL.Path = m[2]
		r2.URL.RawPath = ""
		r = r2
	}
	trace.Phase("api", r.Method+" "+r.URL.Path)
	s.mux.ServeHTTP(w, r)
	trace.Phase("api", "done "+r.Method+" "+r.URL.Path)
}

type versionKey struct{}

// apiVersion is the API version the client asked for (in the path);
// the newest served when it named none.
func apiVersion(r *http.Request) string {
	if v, ok := r.Context().Value(versionKey{}).(string); ok {
		return v
	}
	return APIVersion
}

// before tells whether the client asked for an API older than v: moby
// gates its response shapes so.
func before(r *http.Request, v string) bool { return compareVersions(apiVersion(r), v) < 0 }

// compareVersions compares two MAJOR.MINOR API versions.
func compareVersions(a, b string) int {
	pa, pb := strings.SplitN(a, ".", 2), strings.SplitN(b, ".", 2)
	for i := 0; i < 2; i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// statusError is an error with the HTTP status to answer it with.
type statusError struct {
	status int
	err    error
}

func (e statusError) Error() string { return e.err.Error() }
func (e statusError) Unwrap() error { return e.err }

func httpError(status int, err error) error { return statusError{status, err} }

func badRequest(err error) error { return httpError(http.StatusBadRequest, err) }

// statusOf is the status Docker answers an error of the engine's with.
func statusOf(err error) int {
	var se statusError
	switch {
	case errors.As(err, &se):
		return se.status
	case errors.Is(err, engine.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, engine.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, engine.ErrInvalid):
		return http.StatusBadRequest
	}
	// A start that did not reach the container's code: 400 with the
	// runtime's message, as Docker answers, so the CLI exits 126 or 127
	// by it.
	var start *engine.StatusError
	if errors.As(err, &start) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// writeError answers with Docker's error body; clients print it after
// "Error response from daemon: ".
func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), map[string]string{"message": err.Error()})
}

// reply answers with v, or with err when it is set: an endpoint that is
// one call of the engine.
func reply(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, status, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The client went away: there is nobody to tell.
	_ = json.NewEncoder(w).Encode(v)
}

// simple is an endpoint that answers 204 when fn succeeds.
func (s *Server) simple(fn func(*http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(r); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// listed answers with what list returns for the request's filters.
func listed[T any](w http.ResponseWriter, r *http.Request, list func(engine.Filters) (T, error)) {
	f, err := filtersOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	v, err := list(f)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// openStream answers 200 with the content type and sends the headers at
// once: the body streams after them, as the condition or the events
// come.
func openStream(w http.ResponseWriter, contentType string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	flush(w)
}

func flush(w any) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// sendJSON writes one JSON value of a stream and flushes it.
func sendJSON(w http.ResponseWriter, v any) error {
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return err
	}
	flush(w)
	return nil
}

// decode reads a JSON request body into v; an empty body leaves v as is.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil && err.Error() != "EOF" {
		return badRequest(fmt.Errorf("invalid JSON body: %w", err))
	}
	return nil
}

// boolValue reads a query boolean as Docker does: 1/0, true/false in
// any case; absent is false.
func boolValue(r *http.Request, name string) bool {
	switch strings.ToLower(r.URL.Query().Get(name)) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

// filtersOf reads the filters query parameter: {"key":{"value":true}}
// or the older {"key":["value"]}.
func filtersOf(r *http.Request) (engine.Filters, error) {
	raw := r.URL.Query().Get("filters")
	if raw == "" {
		return nil, nil
	}
	out := engine.Filters{}
	var byMap map[string]map[string]bool
	if err := json.Unmarshal([]byte(raw), &byMap); err == nil {
		for k, vs := range byMap {
			for v, on := range vs {
				if on {
					out[k] = append(out[k], v)
				}
			}
		}
		return out, nil
	}
	var byList map[string][]string
	if err := json.Unmarshal([]byte(raw), &byList); err != nil {
		return nil, badRequest(fmt.Errorf("invalid filters: %s", raw))
	}
	for k, vs := range byList {
		out[k] = append(out[k], vs...)
	}
	return out, nil
}
