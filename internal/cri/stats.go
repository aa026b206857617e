package cri

import (
	"context"
	"errors"
	"strings"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	mobyevents "github.com/moby/moby/api/types/events"
	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-project/berth/internal/engine"
)

func u64(v uint64) *runtimeapi.UInt64Value { return &runtimeapi.UInt64Value{Value: v} }

// usage is a running container's CPU and memory as CRI counts them: the
// working set is the usage less the inactive file cache, as cAdvisor's.
func usage(st mobycontainer.StatsResponse) (*runtimeapi.CpuUsage, *runtimeapi.MemoryUsage) {
	now := time.Now().UnixNano()
	cpu := &runtimeapi.CpuUsage{Timestamp: now, UsageCoreNanoSeconds: u64(st.CPUStats.CPUUsage.TotalUsage)}
	ws := st.MemoryStats.Usage
	for _, k := range []string{"inactive_file", "total_inactive_file"} {
		if v, ok := st.MemoryStats.Stats[k]; ok && v <= ws {
			ws -= v
			break
		}
	}
	mem := &runtimeapi.MemoryUsage{Timestamp: now, UsageBytes: u64(st.MemoryStats.Usage), WorkingSetBytes: u64(ws)}
	if rss, ok := st.MemoryStats.Stats["rss"]; ok {
		mem.RssBytes = u64(rss)
	} else if anon, ok := st.MemoryStats.Stats["anon"]; ok {
		mem.RssBytes = u64(anon)
	}
	return cpu, mem
}

// containerStats is one container's; a stopped one has no usage.
func (s *Server) containerStats(id string, labels map[string]string) (*runtimeapi.ContainerStats, error) {
	cs := &runtimeapi.ContainerStats{Attributes: &runtimeapi.ContainerAttributes{Id: id, Metadata: containerMetadata(labels),
		Labels: userLabels(labels), Annotations: annotationsOf(labels)}}
	st, err := s.e.ContainerStats(id)
	if err == nil {
		cs.Cpu, cs.Memory = usage(st)
	} else if !errors.Is(err, engine.ErrConflict) { // not running: no usage
		return nil, err
	}
	root, _ := s.e.Roots()
	if rw, _, err := s.e.ContainerSize(id); err == nil {
		cs.WritableLayer = &runtimeapi.FilesystemUsage{Timestamp: time.Now().UnixNano(), FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: root},
			UsedBytes: u64(uint64(max(rw, 0)))}
	}
	return cs, nil
}

// ContainerStats is one container's usage.
func (s *Server) ContainerStats(_ context.Context, req *runtimeapi.ContainerStatsRequest) (*runtimeapi.ContainerStatsResponse, error) {
	in, err := s.criContainer(req.ContainerId)
	if err != nil {
		return nil, grpcError(err)
	}
	cs, err := s.containerStats(in.ID, in.Config.Labels)
	if err != nil {
		return nil, grpcError(err)
	}
	return &runtimeapi.ContainerStatsResponse{Stats: cs}, nil
}

// ListContainerStats is the usage of the containers a filter selects.
func (s *Server) ListContainerStats(_ context.Context, req *runtimeapi.ListContainerStatsRequest) (*runtimeapi.ListContainerStatsResponse, error) {
	list, err := s.e.ContainerList(engine.ListOptions{All: true, Filters: engine.Filters{"label": {labelKind + "=container"}}})
	if err != nil {
		return nil, grpcError(err)
	}
	f := req.GetFilter()
	resp := &runtimeapi.ListContainerStatsResponse{}
	for _, c := range list {
		if f != nil && (f.Id != "" && !strings.HasPrefix(c.ID, f.Id) || f.PodSandboxId != "" && !strings.HasPrefix(c.Labels[labelSandbox], f.PodSandboxId) ||
			!selected(userLabels(c.Labels), f.LabelSelector)) {
			continue
		}
		cs, err := s.containerStats(c.ID, c.Labels)
		if errors.Is(err, engine.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, grpcError(err)
		}
		resp.Stats = append(resp.Stats, cs)
	}
	return resp, nil
}

// podStats is a pod's usage: its containers' summed, and each's.
func (s *Server) podStats(id string, labels map[string]string) (*runtimeapi.PodSandboxStats, error) {
	ps := &runtimeapi.PodSandboxStats{Attributes: &runtimeapi.PodSandboxAttributes{Id: id, Metadata: sandboxMetadata(labels),
		Labels: userLabels(labels), Annotations: annotationsOf(labels)}, Linux: &runtimeapi.LinuxPodSandboxStats{}}
	list, err := s.e.ContainerList(engine.ListOptions{All: true, Filters: engine.Filters{"label": {labelSandbox + "=" + id}}})
	if err != nil {
		return nil, err
	}
	now := time.Now().UnixNano()
	cpu := &runtimeapi.CpuUsage{Timestamp: now, UsageCoreNanoSeconds: u64(0)}
	mem := &runtimeapi.MemoryUsage{Timestamp: now, UsageBytes: u64(0), WorkingSetBytes: u64(0)}
	for _, c := range list {
		cs, err := s.containerStats(c.ID, c.Labels)
		if err != nil {
			continue // removed meanwhile
		}
		ps.Linux.Containers = append(ps.Linux.Containers, cs)
		if cs.Cpu != nil {
			cpu.UsageCoreNanoSeconds.Value += cs.Cpu.UsageCoreNanoSeconds.Value
			mem.UsageBytes.Value += cs.Memory.UsageBytes.Value
			mem.WorkingSetBytes.Value += cs.Memory.WorkingSetBytes.Value
		}
	}
	ps.Linux.Cpu, ps.Linux.Memory = cpu, mem
	return ps, nil
}

// PodSandboxStats is one pod's usage.
func (s *Server) PodSandboxStats(_ context.Context, req *runtimeapi.PodSandboxStatsRequest) (*runtimeapi.PodSandboxStatsResponse, error) {
	sb, err := s.sandbox(req.PodSandboxId)
	if err != nil {
		return nil, grpcError(err)
	}
	ps, err := s.podStats(sb.ID, sb.Config.Labels)
	if err != nil {
		return nil, grpcError(err)
	}
	return &runtimeapi.PodSandboxStatsResponse{Stats: ps}, nil
}

// ListPodSandboxStats is the usage of the pods a filter selects.
func (s *Server) ListPodSandboxStats(_ context.Context, req *runtimeapi.ListPodSandboxStatsRequest) (*runtimeapi.ListPodSandboxStatsResponse, error) {
	list, err := s.e.ContainerList(engine.ListOptions{All: true, Filters: engine.Filters{"label": {labelKind + "=sandbox"}}})
	if err != nil {
		return nil, grpcError(err)
	}
	f := req.GetFilter()
	resp := &runtimeapi.ListPodSandboxStatsResponse{}
	for _, c := range list {
		if f != nil && (f.Id != "" && !strings.HasPrefix(c.ID, f.Id) || !selected(userLabels(c.Labels), f.LabelSelector)) {
			continue
		}
		ps, err := s.podStats(c.ID, c.Labels)
		if err != nil {
			return nil, grpcError(err)
		}
		resp.Stats = append(resp.Stats, ps)
	}
	return resp, nil
}

// UpdateContainerResources changes a container's limits, running or not.
func (s *Server) UpdateContainerResources(_ context.Context, req *runtimeapi.UpdateContainerResourcesRequest) (*runtimeapi.UpdateContainerResourcesResponse, error) {
	if _, err := s.criContainer(req.ContainerId); err != nil {
		return nil, grpcError(err)
	}
	var u mobycontainer.UpdateConfig
	if r := req.GetLinux(); r != nil {
		u.CPUPeriod, u.CPUQuota, u.CPUShares, u.Memory = r.CpuPeriod, r.CpuQuota, r.CpuShares, r.MemoryLimitInBytes
		u.CpusetCpus, u.CpusetMems = r.CpusetCpus, r.CpusetMems
		if r.MemorySwapLimitInBytes > 0 {
			u.MemorySwap = r.MemorySwapLimitInBytes
		}
	}
	if _, err := s.e.ContainerUpdate(req.ContainerId, u); err != nil {
		return nil, grpcError(err)
	}
	return &runtimeapi.UpdateContainerResourcesResponse{}, nil
}

// GetContainerEvents streams the pods' containers' lifecycle (created,
// started, stopped, deleted) from the engine's events journal, with the
// pod's and the container's status when they are still there.
func (s *Server) GetContainerEvents(_ *runtimeapi.GetEventsRequest, stream grpc.ServerStreamingServer[runtimeapi.ContainerEventResponse]) error {
	kinds := map[mobyevents.Action]runtimeapi.ContainerEventType{
		mobyevents.ActionCreate:  runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT,
		mobyevents.ActionStart:   runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT,
		mobyevents.ActionDie:     runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT,
		mobyevents.ActionDestroy: runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT,
	}
	o := engine.EventsOptions{Filters: engine.Filters{"type": {"container"}, "label": {labelKind + "=container"}}}
	err := s.e.SystemEvents(stream.Context(), o, func(m mobyevents.Message) error {
		kind, ok := kinds[m.Action]
		if !ok {
			return nil
		}
		ev := &runtimeapi.ContainerEventResponse{ContainerId: m.Actor.ID, ContainerEventType: kind, CreatedAt: m.TimeNano}
		if st, err := s.ContainerStatus(stream.Context(), &runtimeapi.ContainerStatusRequest{ContainerId: m.Actor.ID}); err == nil {
			ev.ContainersStatuses = []*runtimeapi.ContainerStatus{st.Status}
		}
		if sb := m.Actor.Attributes[labelSandbox]; sb != "" {
			if ps, err := s.PodSandboxStatus(stream.Context(), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sb}); err == nil {
				ev.PodSandboxStatus = ps.Status
			}
		}
		return stream.Send(ev)
	})
	if errors.Is(err, context.Canceled) {
		return nil // the client went
	}
	return grpcError(err)
}

// ReopenContainerLog has a container's monitor reopen its log file,
// which the kubelet renamed to rotate it.
func (s *Server) ReopenContainerLog(_ context.Context, req *runtimeapi.ReopenContainerLogRequest) (*runtimeapi.ReopenContainerLogResponse, error) {
	if _, err := s.criContainer(req.ContainerId); err != nil {
		return nil, grpcError(err)
	}
	if err := s.e.ContainerReopenLog(req.ContainerId); err != nil {
		return nil, grpcError(err)
	}
	return &runtimeapi.ReopenContainerLogResponse{}, nil
}
