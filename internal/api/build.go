package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	mobybuild "github.com/moby/moby/api/types/build"
	mobycontainer "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/build"
	"github.com/berth-project/berth/internal/engine"
)

// build is POST /build: the body is the context as a tar (plain or
// compressed), the query the CLI's flags; the answer streams the
// classic builder's lines as {"stream": …}, the image as {"aux": {"ID"}}.
func (s *Server) build(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	o := build.Options{ContextArchive: r.Body, Dockerfile: q.Get("dockerfile"), Tags: q["t"], Target: q.Get("target"),
		NoCache: boolValue(r, "nocache"), PullAlways: boolValue(r, "pull"), Platform: q.Get("platform"), Progress: build.ProgressClassic,
		BuildArgs: map[string]string{}, Network: q.Get("networkmode")}
	if v := q.Get("extrahosts"); v != "" {
		// A comma list (the CLI), or one host per parameter.
		for _, h := range q["extrahosts"] {
			o.ExtraHosts = append(o.ExtraHosts, strings.Split(h, ",")...)
		}
	}
	var err error
	if o.Pull.RegistryOptions, err = registryConfig(r); err != nil {
		writeError(w, err)
		return
	}
	if o.Dockerfile == "" {
		o.Dockerfile = "Dockerfile"
	}
	if o.StepHost, err = stepHost(q); err != nil {
		writeError(w, badRequest(err))
		return
	}
	if v := q.Get("buildargs"); v != "" {
		var args map[string]*string
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			writeError(w, badRequest(fmt.Errorf("invalid buildargs: %w", err)))
			return
		}
		for k, v := range args {
			if v != nil {
				o.BuildArgs[k] = *v
			}
		}
	}
	if v := q.Get("labels"); v != "" {
		if err := json.Unmarshal([]byte(v), &o.Labels); err != nil {
			writeError(w, badRequest(fmt.Errorf("invalid labels: %w", err)))
			return
		}
	}
	if v := q.Get("cachefrom"); v != "" {
		if err := json.Unmarshal([]byte(v), &o.CacheFrom); err != nil {
			writeError(w, badRequest(fmt.Errorf("invalid cachefrom: %w", err)))
			return
		}
	}
	o.ClassicCacheFrom = true // the classic builder's endpoint
	js := newJSONStream(w, "stream")
	if !boolValue(r, "q") {
		o.Out = js
	}
	res, err := build.Build(r.Context(), s.e, o)
	var ce *build.CommandError
	if errors.As(err, &ce) {
		// As the classic builder ends: its words, the command's code.
		msg := ce.Classic()
		js.message(map[string]any{"errorDetail": map[string]any{"message": msg, "code": ce.Code}, "error": msg})
		return
	}
	if err != nil {
		js.fail(err)
		return
	}
	js.message(map[string]any{"aux": map[string]string{"ID": res.ID}})
	if boolValue(r, "q") {
		js.message(map[string]string{"stream": res.ID + "\n"})
		return
	}
	js.message(map[string]string{"stream": "Successfully built " + strings.TrimPrefix(res.ID, "sha256:")[:12] + "\n"})
	for _, t := range o.Tags {
		js.message(map[string]string{"stream": "Successfully tagged " + t + "\n"})
	}
}

// stepHost is the classic builder's options for its RUN steps'
// containers, from the query (docker-py's container_limits, the CLI's
// --memory, --cpu-shares, --ulimit, ...).
func stepHost(q url.Values) (mobycontainer.HostConfig, error) {
	var hc mobycontainer.HostConfig
	ints := []struct {
		key string
		dst *int64
	}{
		{"memory", &hc.Memory}, {"memswap", &hc.MemorySwap}, {"cpushares", &hc.CPUShares},
		{"cpuperiod", &hc.CPUPeriod}, {"cpuquota", &hc.CPUQuota}, {"shmsize", &hc.ShmSize},
	}
	for _, i := range ints {
		if v := q.Get(i.key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return hc, fmt.Errorf("invalid %s: %q", i.key, v)
			}
			*i.dst = n
		}
	}
	hc.CpusetCpus, hc.CpusetMems, hc.CgroupParent = q.Get("cpusetcpus"), q.Get("cpusetmems"), q.Get("cgroupparent")
	hc.Isolation = mobycontainer.Isolation(q.Get("isolation"))
	if v := q.Get("ulimits"); v != "" {
		if err := json.Unmarshal([]byte(v), &hc.Ulimits); err != nil {
			return hc, fmt.Errorf("invalid ulimits: %w", err)
		}
	}
	if v := q.Get("securityopt"); v != "" {
		if err := json.Unmarshal([]byte(v), &hc.SecurityOpt); err != nil {
			return hc, fmt.Errorf("invalid securityopt: %w", err)
		}
	}
	return hc, nil
}

// buildPrune is POST /build/prune: the build cache, but for what its
// until filter and keep-storage keep.
func (s *Server) buildPrune(w http.ResponseWriter, r *http.Request) {
	f, err := filtersOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var o build.PruneOptions
	for k, vals := range f {
		if k != "until" || len(vals) != 1 {
			writeError(w, badRequest(fmt.Errorf("invalid filter %q: berth's build cache takes one until=", k)))
			return
		}
		if o.Until, err = engine.ParseTime(vals[0], time.Now()); err != nil {
			writeError(w, badRequest(fmt.Errorf("until filter: %w", err)))
			return
		}
	}
	if v := r.URL.Query().Get("keep-storage"); v != "" {
		if o.KeepStorage, err = strconv.ParseInt(v, 10, 64); err != nil {
			writeError(w, badRequest(fmt.Errorf("invalid keep-storage %q", v)))
			return
		}
	}
	rep, err := build.Prune(s.e, o)
	out := mobybuild.CachePruneReport{CachesDeleted: rep.Images, SpaceReclaimed: uint64(rep.Freed)}
	if out.CachesDeleted == nil {
		out.CachesDeleted = []string{}
	}
	reply(w, http.StatusOK, out, err)
}
