package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	mobyregistry "github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/engine"
)

// Registry endpoints and the credentials clients send along: the
// X-Registry-Auth header of a pull or push (one registry's) and the
// X-Registry-Config header of a build (every registry's, by address),
// both base64url JSON. The server stores none of them.
func (s *Server) registryRoutes() {
	s.mux.HandleFunc("POST /auth", s.auth)
	s.mux.HandleFunc("GET /distribution/", s.distribution)
	s.mux.HandleFunc("GET /images/search", s.imageSearch)
}

// decodeHeader reads a base64url JSON header into v; padded or not, as
// clients differ.
func decodeHeader(r *http.Request, name string, v any) (bool, error) {
	h := r.Header.Get(name)
	if h == "" {
		return false, nil
	}
	b, err := base64.URLEncoding.DecodeString(h)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "=")); err != nil {
			return false, badRequest(fmt.Errorf("invalid %s header: %w", name, err))
		}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, badRequest(fmt.Errorf("invalid %s header: %w", name, err))
	}
	return true, nil
}

// credentials are an AuthConfig's, its "auth" (user:password in
// base64) read when the fields are empty.
func credentials(a mobyregistry.AuthConfig) engine.RegistryAuth {
	out := engine.RegistryAuth{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
	if out.Username == "" && a.Auth != "" {
		if raw, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
			out.Username, out.Password, _ = strings.Cut(string(raw), ":")
		}
	}
	return out
}

// registryAuth is a pull's or push's registry options: the
// X-Registry-Auth credentials, for the image's registry.
func registryAuth(r *http.Request) (engine.RegistryOptions, error) {
	var a mobyregistry.AuthConfig
	ok, err := decodeHeader(r, "X-Registry-Auth", &a)
	if err != nil || !ok {
		return engine.RegistryOptions{}, err
	}
	if c := credentials(a); c != (engine.RegistryAuth{}) {
		return engine.RegistryOptions{Auth: map[string]engine.RegistryAuth{"": c}}, nil
	}
	return engine.RegistryOptions{}, nil
}

// registryConfig is a build's registry options: X-Registry-Config's
// credentials, by registry.
func registryConfig(r *http.Request) (engine.RegistryOptions, error) {
	var all map[string]mobyregistry.AuthConfig
	ok, err := decodeHeader(r, "X-Registry-Config", &all)
	if err != nil || !ok {
		return engine.RegistryOptions{}, err
	}
	o := engine.RegistryOptions{Auth: map[string]engine.RegistryAuth{}}
	for server, a := range all {
		if c := credentials(a); c != (engine.RegistryAuth{}) && server != "" {
			o.Auth[server] = c
		}
	}
	return o, nil
}

// auth is POST /auth: docker login asks whether the registry takes the
// credentials; the client stores them itself.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) {
	var a mobyregistry.AuthConfig
	if err := decode(r, &a); err != nil {
		writeError(w, err)
		return
	}
	c := credentials(a)
	err := s.e.CheckLogin(r.Context(), a.ServerAddress, c.Username, c.Password, engine.RegistryOptions{})
	if errors.Is(err, engine.ErrUnauthorized) {
		writeError(w, httpError(http.StatusUnauthorized, err))
		return
	}
	reply(w, http.StatusOK, mobyregistry.AuthResponse{Status: "Login Succeeded"}, err)
}

// distribution is GET /distribution/NAME/json: the manifest a
// registry serves for NAME, unpulled.
func (s *Server) distribution(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/distribution/"), "/json")
	if !ok || name == "" {
		writeError(w, httpError(http.StatusNotFound, errors.New("page not found")))
		return
	}
	o, err := registryAuth(r)
	if err != nil {
		writeError(w, err)
		return
	}
	d, err := s.e.DistributionInspect(r.Context(), name, o)
	reply(w, http.StatusOK, d, err)
}

func (s *Server) imageSearch(w http.ResponseWriter, r *http.Request) {
	o, err := registryAuth(r)
	if err != nil {
		writeError(w, err)
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit")) // absent or bad: no limit, as the default 25 of the CLI is sent
	res, err := s.e.ImageSearch(r.Context(), r.URL.Query().Get("term"), limit, o)
	reply(w, http.StatusOK, res, err)
}
