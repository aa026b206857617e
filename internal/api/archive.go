package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/berth-project/berth/internal/engine"
)

// The archive endpoints are docker cp: HEAD stats a path, GET sends it
// as a tar, PUT unpacks a tar into a directory. The path's stat goes in
// a header, as base64 JSON.
func (s *Server) archiveRoutes() {
	s.mux.HandleFunc("HEAD /containers/{id}/archive", s.archiveStat)
	s.mux.HandleFunc("GET /containers/{id}/archive", s.archiveGet)
	s.mux.HandleFunc("PUT /containers/{id}/archive", s.archivePut)
}

const pathStatHeader = "X-Docker-Container-Path-Stat"

// statHeader stats the path the request names and sets the header; an
// error is answered.
func (s *Server) statHeader(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Query().Get("path")
	if p == "" {
		writeError(w, badRequest(errors.New("path is required")))
		return false
	}
	st, err := s.e.ContainerStatPath(r.PathValue("id"), p)
	if err != nil {
		writeError(w, err)
		return false
	}
	b, err := json.Marshal(st)
	if err != nil {
		writeError(w, err)
		return false
	}
	w.Header().Set(pathStatHeader, base64.StdEncoding.EncodeToString(b))
	return true
}

func (s *Server) archiveStat(w http.ResponseWriter, r *http.Request) {
	if s.statHeader(w, r) {
		w.WriteHeader(http.StatusOK)
	}
}

func (s *Server) archiveGet(w http.ResponseWriter, r *http.Request) {
	if !s.statHeader(w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	// Headers go with the first byte: a failure after it can only cut
	// the tar short, which the client reports.
	_ = s.e.ContainerArchive(r.PathValue("id"), r.URL.Query().Get("path"), w)
}

func (s *Server) archivePut(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("path")
	if p == "" {
		writeError(w, badRequest(errors.New("path is required")))
		return
	}
	err := s.e.ContainerExtract(r.PathValue("id"), p, r.Body, engine.ExtractOptions{
		NoOverwriteDirNonDir: boolValue(r, "noOverwriteDirNonDir"), CopyUIDGID: boolValue(r, "copyUIDGID")})
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
