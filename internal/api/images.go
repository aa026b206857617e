package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	mobyimage "github.com/moby/moby/api/types/image"

	"github.com/berth-project/berth/internal/engine"
)

func (s *Server) imageList(w http.ResponseWriter, r *http.Request) {
	listed(w, r, func(f engine.Filters) ([]mobyimage.Summary, error) {
		// The older API's filter=NAME is the reference filter.
		if v := r.URL.Query().Get("filter"); v != "" {
			if f == nil {
				f = engine.Filters{}
			}
			f["reference"] = append(f["reference"], v)
		}
		return s.e.ImageList(engine.ImageListOptions{All: boolValue(r, "all"), Filters: f, Manifests: boolValue(r, "manifests")})
	})
}

// jsonStream writes a progress stream as the API's JSON messages: one
// {"stream": …} per write (build: as Docker's, so a write's colour codes
// stay with its text) or {"status": …} per line (pull, push), and the
// error that ends it as {"errorDetail": …}.
type jsonStream struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	key     string // "stream" or "status"
	partial []byte
}

// The headers go with the first message, not before: a flush would end
// the reading of the request's body (a build's context).
func newJSONStream(w http.ResponseWriter, key string) *jsonStream {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	return &jsonStream{w: w, key: key}
}

func (j *jsonStream) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.key == "stream" {
		if len(p) > 0 {
			j.send(map[string]any{j.key: string(p)})
		}
		return len(p), nil
	}
	j.partial = append(j.partial, p...)
	for {
		i := bytes.IndexAny(j.partial, "\r\n")
		if i < 0 {
			return len(p), nil
		}
		line := string(j.partial[:i])
		j.partial = j.partial[i+1:]
		if strings.TrimSpace(line) == "" {
			continue
		}
		j.send(map[string]any{j.key: line})
	}
}

func (j *jsonStream) send(v any) {
	b, _ := json.Marshal(v)                 // maps of strings: always encodable
	_, _ = j.w.Write(append(b, '\r', '\n')) // a client gone misses the rest
	flush(j.w)
}

// message sends one message of the stream's own.
func (j *jsonStream) message(v any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.send(v)
}

// fail ends the stream with its error, as Docker's clients read it.
func (j *jsonStream) fail(err error) {
	j.message(map[string]any{"errorDetail": map[string]string{"message": err.Error()}, "error": err.Error()})
}

// imagePull is POST /images/create?fromImage=…&tag=…: a pull, its
// progress streamed.
func (s *Server) imagePull(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ref := q.Get("fromImage")
	if q.Get("fromSrc") != "" {
		s.imageImport(w, r)
		return
	}
	if ref == "" {
		writeError(w, badRequest(fmt.Errorf("fromImage or fromSrc is required")))
		return
	}
	ro, err := registryAuth(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if tag := q.Get("tag"); tag != "" {
		if strings.HasPrefix(tag, "sha256:") {
			ref += "@" + tag
		} else {
			ref += ":" + tag
		}
	}
	js := newJSONStream(w, "status")
	res, err := s.e.ImagePull(r.Context(), ref, engine.PullOptions{RegistryOptions: ro, Platform: q.Get("platform"), Progress: js})
	if err != nil {
		js.fail(err)
		return
	}
	if res.Digest != "" {
		js.message(map[string]string{"status": "Digest: " + res.Digest})
	}
	js.message(map[string]string{"status": "Status: Downloaded newer image for " + res.Name})
}

// imageImport is POST /images/create?fromSrc=-: a root filesystem tar
// in the body becomes an image (docker import).
func (s *Server) imageImport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if src := q.Get("fromSrc"); src != "-" {
		writeError(w, badRequest(fmt.Errorf("import from %q: only the request body (fromSrc=-) is imported; fetch the archive and send it", src)))
		return
	}
	ref := q.Get("repo")
	if t := q.Get("tag"); ref != "" && t != "" {
		ref += ":" + t
	}
	js := newJSONStream(w, "status")
	id, err := s.e.ImageImport(r.Context(), r.Body, engine.ImportOptions{Ref: ref, Changes: q["changes"], Message: q.Get("message"), Platform: q.Get("platform")})
	if err != nil {
		js.fail(err)
		return
	}
	js.message(map[string]string{"status": id})
}

// imageLoad is POST /images/load: docker load's archive in the body.
func (s *Server) imageLoad(w http.ResponseWriter, r *http.Request) {
	js := newJSONStream(w, "stream")
	loaded, err := s.e.ImageLoad(r.Context(), r.Body, "")
	if err != nil {
		js.fail(err)
		return
	}
	for _, img := range loaded {
		if len(img.Names) == 0 {
			js.message(map[string]string{"stream": "Loaded image ID: " + img.ID + "\n"})
		}
		for _, n := range img.Names {
			js.message(map[string]string{"stream": "Loaded image: " + n + "\n"})
		}
	}
}

// imagesSave is GET /images/get?names=…: docker save of several.
func (s *Server) imagesSave(w http.ResponseWriter, r *http.Request) {
	names := r.URL.Query()["names"]
	for _, n := range names {
		if _, err := s.e.ImageInspect(n); err != nil {
			writeError(w, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	// Headers go with the first byte: a failure after it cuts the tar
	// short, which the client reports.
	_ = s.e.ImageSave(w, names, engine.DockerArchive)
}

// withFields is v's JSON object with more fields, for the shapes of
// older API versions; v as it is if it is not an object.
func withFields(v any, extra map[string]any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // sizes and times stay exact
	if dec.Decode(&m) != nil {
		return v
	}
	for k, x := range extra {
		if _, ok := m[k]; !ok {
			m[k] = x
		}
	}
	return m
}

// imagePath splits /images/NAME/VERB (NAME may hold slashes).
func imagePath(r *http.Request) (name, verb string) {
	rest := strings.TrimPrefix(r.URL.Path, "/images/")
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return rest, ""
	}
	return rest[:i], rest[i+1:]
}

func (s *Server) imageGet(w http.ResponseWriter, r *http.Request) {
	name, verb := imagePath(r)
	switch verb {
	case "json":
		in, err := s.e.ImageInspect(name)
		if err != nil {
			writeError(w, err)
			return
		}
		if before(r, "1.52") {
			// Older APIs have Parent, and Config.OnBuild always.
			out := withFields(in, nil)
			if m, ok := out.(map[string]any); ok {
				if cfg, ok := m["Config"].(map[string]any); ok {
					if _, ok := cfg["OnBuild"]; !ok {
						cfg["OnBuild"] = nil // older APIs have the key, empty
					}
				}
			}
			writeJSON(w, http.StatusOK, out)
			return
		}
		writeJSON(w, http.StatusOK, in.InspectResponse)
	case "history":
		h, err := s.e.ImageHistory(name)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, h)
	case "get":
		w.Header().Set("Content-Type", "application/x-tar")
		if err := s.e.ImageSave(w, []string{name}, engine.DockerArchive); err != nil {
			writeError(w, err)
		}
	default:
		writeError(w, httpError(http.StatusNotFound, fmt.Errorf("page not found")))
	}
}

func (s *Server) imagePost(w http.ResponseWriter, r *http.Request) {
	name, verb := imagePath(r)
	q := r.URL.Query()
	switch verb {
	case "tag":
		dst := q.Get("repo")
		if t := q.Get("tag"); t != "" {
			dst += ":" + t
		}
		if err := s.e.ImageTag(name, dst); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusCreated)
	case "push":
		ref := name
		if t := q.Get("tag"); t != "" {
			ref += ":" + t
		}
		ro, err := registryAuth(r)
		if err != nil {
			writeError(w, err)
			return
		}
		js := newJSONStream(w, "status")
		d, err := s.e.ImagePush(r.Context(), ref, engine.PushOptions{RegistryOptions: ro, Progress: js})
		if err != nil {
			js.fail(err)
			return
		}
		tag := q.Get("tag")
		if tag == "" {
			tag = "latest"
		}
		js.message(map[string]any{"status": tag + ": digest: " + d, "aux": map[string]any{"Tag": tag, "Digest": d}})
	default:
		writeError(w, httpError(http.StatusNotFound, fmt.Errorf("page not found")))
	}
}

func (s *Server) imageRemove(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/images/") // DELETE /images/NAME: the whole rest
	resp, err := s.e.ImageRemove(name, boolValue(r, "force"))
	reply(w, http.StatusOK, resp, err)
}
