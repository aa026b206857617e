package api

import (
	"net/http"
	goruntime "runtime"

	mobysystem "github.com/moby/moby/api/types/system"

	"github.com/berth-project/berth/internal/engine"
)

// ping answers /_ping: "OK", with the headers clients negotiate by.
// Builder-Version 1: the classic build endpoint is what berth serves,
// so the docker CLI without buildx uses it.
func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Builder-Version", "1")
	h.Set("Docker-Experimental", "false")
	h.Set("Swarm", "inactive")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK")) // the client went away: nobody to tell
}

func (s *Server) versionInfo(w http.ResponseWriter, _ *http.Request) {
	v := mobysystem.VersionResponse{
		Platform: mobysystem.PlatformInfo{Name: "berth"}, Version: s.version, APIVersion: APIVersion, MinAPIVersion: MinAPIVersion,
		Os: "linux", Arch: goruntime.GOARCH, GoVersion: goruntime.Version(), KernelVersion: engine.KernelVersion(),
		Components: []mobysystem.ComponentVersion{{Name: "Engine", Version: s.version,
			Details: map[string]string{"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion, "Os": "linux", "Arch": goruntime.GOARCH, "GoVersion": goruntime.Version()}}},
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) info(w http.ResponseWriter, _ *http.Request) {
	in, err := s.e.SystemInfo()
	reply(w, http.StatusOK, in, err)
}
