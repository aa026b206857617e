package cri

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-project/berth/internal/engine"
)

func containerMetadata(labels map[string]string) *runtimeapi.ContainerMetadata {
	var md runtimeapi.ContainerMetadata
	_ = json.Unmarshal([]byte(labels[labelMetadata]), &md) // berth's own JSON; none leaves it empty
	return &md
}

// propagations are CRI's mount propagations as -v options.
var propagations = map[runtimeapi.MountPropagation]string{
	runtimeapi.MountPropagation_PROPAGATION_PRIVATE:           "rprivate",
	runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER: "rslave",
	runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL:     "rshared",
}

// CreateContainer makes a container in a pod: it joins the sandbox's
// network, IPC and UTS namespaces, and its PID namespace as the pod's
// options say.
func (s *Server) CreateContainer(ctx context.Context, req *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	sb, err := s.sandbox(req.PodSandboxId)
	if err != nil {
		return nil, grpcError(err)
	}
	cfg := req.GetConfig()
	md := cfg.GetMetadata()
	if md == nil || md.Name == "" {
		return nil, invalid("CreateContainer: metadata needs a name")
	}
	img := cfg.GetImage().GetImage()
	if img == "" {
		return nil, invalid("CreateContainer: no image given")
	}
	pod := sandboxMetadata(sb.Config.Labels)
	labels := userLabels(cfg.Labels)
	labels[labelKind], labels[labelSandbox], labels[labelMetadata] = "container", sb.ID, jsonLabel(md)
	labels[labelAnnotations], labels[labelImage] = jsonLabel(cfg.Annotations), img
	c := mobycontainer.Config{Image: img, Entrypoint: cfg.Command, Cmd: cfg.Args, WorkingDir: cfg.WorkingDir, Labels: labels,
		Tty: cfg.Tty, OpenStdin: cfg.Stdin, StdinOnce: cfg.StdinOnce}
	for _, kv := range cfg.Envs {
		c.Env = append(c.Env, kv.Key+"="+string(kv.Value))
	}
	join := mobycontainer.NetworkMode("container:" + sb.ID)
	hc := mobycontainer.HostConfig{NetworkMode: join, IpcMode: mobycontainer.IpcMode(join), UTSMode: mobycontainer.UTSMode(join)}
	hc.CgroupParent = sb.HostConfig.CgroupParent
	lx := cfg.GetLinux()
	sc := lx.GetSecurityContext()
	switch sc.GetNamespaceOptions().GetPid() {
	case runtimeapi.NamespaceMode_POD:
		hc.PidMode = mobycontainer.PidMode(join)
	case runtimeapi.NamespaceMode_NODE:
		hc.PidMode = "host"
	case runtimeapi.NamespaceMode_TARGET:
		hc.PidMode = mobycontainer.PidMode("container:" + sc.GetNamespaceOptions().GetTargetId())
	}
	if err := securityOf(sc, &c, &hc); err != nil {
		return nil, err
	}
	// A pod's containers are in its user namespace: the same map, which
	// the kubelet repeats and berth takes from the sandbox otherwise.
	idMap, err := idMapOf(sandboxNamespaces(sb.Config.Labels).UsernsOptions)
	if err != nil {
		return nil, err
	}
	if u := sc.GetNamespaceOptions().GetUsernsOptions(); u != nil {
		own, err := idMapOf(u)
		if err != nil {
			return nil, err
		}
		if (own == nil) != (idMap == nil) || own != nil && *own != *idMap {
			return nil, invalid("CreateContainer: a container's user namespace is its pod's")
		}
	}
	if r := lx.GetResources(); r != nil {
		hc.CPUPeriod, hc.CPUQuota, hc.CPUShares, hc.Memory = r.CpuPeriod, r.CpuQuota, r.CpuShares, r.MemoryLimitInBytes
		hc.CpusetCpus, hc.CpusetMems, hc.OomScoreAdj = r.CpusetCpus, r.CpusetMems, int(r.OomScoreAdj)
		if r.MemorySwapLimitInBytes > 0 {
			hc.MemorySwap = r.MemorySwapLimitInBytes
		}
	}
	for _, m := range cfg.Mounts {
		if m.HostPath == "" || m.ContainerPath == "" {
			return nil, invalid("CreateContainer: a mount needs a host and a container path")
		}
		opts := []string{propagations[m.Propagation]}
		if m.Readonly {
			opts = append(opts, "ro")
		}
		hc.Binds = append(hc.Binds, m.HostPath+":"+m.ContainerPath+":"+strings.Join(opts, ","))
	}
	for _, d := range cfg.Devices {
		hc.Devices = append(hc.Devices, mobycontainer.DeviceMapping{PathOnHost: d.HostPath, PathInContainer: d.ContainerPath, CgroupPermissions: d.Permissions})
	}
	for _, d := range cfg.CDIDevices {
		hc.Devices = append(hc.Devices, mobycontainer.DeviceMapping{PathOnHost: d.Name})
	}
	if dir := sb.Config.Labels[labelLogDir]; dir != "" && cfg.LogPath != "" {
		hc.LogConfig = mobycontainer.LogConfig{Type: "cri", Config: map[string]string{"path": filepath.Join(dir, cfg.LogPath)}}
	}
	name := engineName(fmt.Sprintf("k8s_%s_%s_%s_%s_%d", md.Name, pod.Name, pod.Namespace, pod.Uid, md.Attempt))
	res, err := s.e.ContainerCreate(ctx, engine.CreateOptions{Name: name, Config: c, HostConfig: hc, IDMap: idMap})
	if err != nil {
		return nil, grpcError(err)
	}
	return &runtimeapi.CreateContainerResponse{ContainerId: res.ID}, nil
}

// securityOf maps a container's security context onto the engine's
// options: privileged, capabilities, user, read-only root, no new
// privileges, seccomp; AppArmor is refused, as this host has none.
func securityOf(sc *runtimeapi.LinuxContainerSecurityContext, c *mobycontainer.Config, hc *mobycontainer.HostConfig) error {
	if sc == nil {
		hc.SecurityOpt = append(hc.SecurityOpt, "seccomp=unconfined") // CRI's default: none asked for
		return nil
	}
	hc.Privileged, hc.ReadonlyRootfs = sc.Privileged, sc.ReadonlyRootfs
	if !sc.Privileged {
		// The kubelet's lists, which replace the defaults ([] unmasks).
		hc.MaskedPaths, hc.ReadonlyPaths = sc.MaskedPaths, sc.ReadonlyPaths
		if hc.MaskedPaths == nil && sc.MaskedPaths != nil {
			hc.MaskedPaths = []string{}
		}
	}
	if caps := sc.GetCapabilities(); caps != nil {
		hc.CapAdd, hc.CapDrop = caps.AddCapabilities, caps.DropCapabilities
	}
	switch {
	case sc.RunAsUsername != "":
		c.User = sc.RunAsUsername
	case sc.RunAsUser != nil:
		c.User = strconv.FormatInt(sc.RunAsUser.Value, 10)
	}
	if sc.RunAsGroup != nil {
		if c.User == "" {
			return invalid("CreateContainer: run_as_group needs run_as_user or run_as_username")
		}
		c.User += ":" + strconv.FormatInt(sc.RunAsGroup.Value, 10)
	}
	for _, g := range sc.SupplementalGroups {
		hc.GroupAdd = append(hc.GroupAdd, strconv.FormatInt(g, 10))
	}
	if sc.NoNewPrivs {
		hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges")
	}
	switch p := sc.GetSeccomp(); {
	case p == nil && sc.SeccompProfilePath == "", p != nil && p.ProfileType == runtimeapi.SecurityProfile_Unconfined:
		hc.SecurityOpt = append(hc.SecurityOpt, "seccomp=unconfined")
	case p != nil && p.ProfileType == runtimeapi.SecurityProfile_RuntimeDefault, sc.SeccompProfilePath == "runtime/default":
		// the engine's default profile, Docker's
	case p != nil && p.ProfileType == runtimeapi.SecurityProfile_Localhost:
		hc.SecurityOpt = append(hc.SecurityOpt, "seccomp="+p.LocalhostRef)
	case strings.HasPrefix(sc.SeccompProfilePath, "localhost/"):
		hc.SecurityOpt = append(hc.SecurityOpt, "seccomp="+strings.TrimPrefix(sc.SeccompProfilePath, "localhost/"))
	}
	if p := sc.GetApparmor(); p != nil && p.ProfileType == runtimeapi.SecurityProfile_Localhost {
		return status.Error(codes.InvalidArgument, "CreateContainer: AppArmor profile "+p.LocalhostRef+": this host has no AppArmor")
	}
	return nil
}

// StartContainer starts a created container.
func (s *Server) StartContainer(ctx context.Context, req *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	if _, err := s.criContainer(req.ContainerId); err != nil {
		return nil, grpcError(err)
	}
	if err := s.e.ContainerStart(ctx, req.ContainerId); err != nil {
		return nil, grpcError(err)
	}
	return &runtimeapi.StartContainerResponse{}, nil
}

// StopContainer stops a container, SIGKILL after timeout seconds; one
// that is stopped already, or gone, is no error.
func (s *Server) StopContainer(ctx context.Context, req *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	if _, err := s.criContainer(req.ContainerId); errors.Is(err, engine.ErrNotFound) {
		return &runtimeapi.StopContainerResponse{}, nil
	} else if err != nil {
		return nil, grpcError(err)
	}
	t := int(req.Timeout)
	if err := s.e.ContainerStop(ctx, req.ContainerId, engine.StopOptions{Timeout: &t}); err != nil {
		return nil, grpcError(err)
	}
	return &runtimeapi.StopContainerResponse{}, nil
}

// RemoveContainer removes a container, running or not; one that is
// gone is no error.
func (s *Server) RemoveContainer(ctx context.Context, req *runtimeapi.RemoveContainerRequest) (*runtimeapi.RemoveContainerResponse, error) {
	if _, err := s.criContainer(req.ContainerId); errors.Is(err, engine.ErrNotFound) {
		return &runtimeapi.RemoveContainerResponse{}, nil
	} else if err != nil {
		return nil, grpcError(err)
	}
	if err := s.e.ContainerRemove(ctx, req.ContainerId, engine.RemoveOptions{Force: true, Volumes: true}); err != nil && !errors.Is(err, engine.ErrNotFound) {
		return nil, grpcError(err)
	}
	return &runtimeapi.RemoveContainerResponse{}, nil
}

// criContainer inspects a pod's container by ID (or prefix).
func (s *Server) criContainer(id string) (*engine.ContainerJSON, error) {
	if id == "" {
		return nil, invalid("no container ID given")
	}
	in, err := s.e.ContainerInspect(id)
	if err != nil {
		return nil, err
	}
	if in.Config.Labels[labelKind] != "container" {
		return nil, fmt.Errorf("%w: container %s", engine.ErrNotFound, id)
	}
	return in, nil
}

func containerState(st string) runtimeapi.ContainerState {
	switch st {
	case "created":
		return runtimeapi.ContainerState_CONTAINER_CREATED
	case "running", "paused", "restarting":
		return runtimeapi.ContainerState_CONTAINER_RUNNING
	case "exited", "dead":
		return runtimeapi.ContainerState_CONTAINER_EXITED
	}
	return runtimeapi.ContainerState_CONTAINER_UNKNOWN
}

// ContainerStatus describes a container as the kubelet reads it: state,
// times, exit code and its reason (Completed, Error, OOMKilled).
func (s *Server) ContainerStatus(_ context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	in, err := s.criContainer(req.ContainerId)
	if err != nil {
		return nil, grpcError(err)
	}
	labels := in.Config.Labels
	st := &runtimeapi.ContainerStatus{Id: in.ID, Metadata: containerMetadata(labels), State: containerState(string(in.State.Status)),
		CreatedAt: stamp(in.Created), StartedAt: stamp(in.State.StartedAt), Image: &runtimeapi.ImageSpec{Image: labels[labelImage]},
		ImageRef: in.Image, ImageId: in.Image, Labels: userLabels(labels), Annotations: annotationsOf(labels)}
	if in.HostConfig != nil && in.HostConfig.LogConfig.Type == "cri" {
		st.LogPath = in.LogPath
	}
	if st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
		st.FinishedAt, st.ExitCode, st.Message = stamp(in.State.FinishedAt), int32(in.State.ExitCode), in.State.Error
		switch {
		case in.State.OOMKilled:
			st.Reason = "OOMKilled"
		case in.State.ExitCode == 0:
			st.Reason = "Completed"
		default:
			st.Reason = "Error"
		}
	}
	for _, m := range in.Mounts {
		cm := &runtimeapi.Mount{ContainerPath: m.Destination, HostPath: m.Source, Readonly: !m.RW}
		for p, opt := range propagations {
			if string(m.Propagation) == opt {
				cm.Propagation = p
			}
		}
		st.Mounts = append(st.Mounts, cm)
	}
	resp := &runtimeapi.ContainerStatusResponse{Status: st}
	if req.Verbose {
		resp.Info = map[string]string{"info": jsonLabel(in)}
	}
	return resp, nil
}

// ListContainers lists pods' containers, by ID prefix, state, sandbox
// and labels.
func (s *Server) ListContainers(_ context.Context, req *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	list, err := s.e.ContainerList(engine.ListOptions{All: true, Filters: engine.Filters{"label": {labelKind + "=container"}}})
	if err != nil {
		return nil, grpcError(err)
	}
	f := req.GetFilter()
	resp := &runtimeapi.ListContainersResponse{}
	for _, c := range list {
		x := &runtimeapi.Container{Id: c.ID, PodSandboxId: c.Labels[labelSandbox], Metadata: containerMetadata(c.Labels),
			Image: &runtimeapi.ImageSpec{Image: c.Labels[labelImage]}, ImageRef: c.ImageID, ImageId: c.ImageID,
			State: containerState(string(c.State)), CreatedAt: time.Unix(c.Created, 0).UnixNano(),
			Labels: userLabels(c.Labels), Annotations: annotationsOf(c.Labels)}
		if f != nil {
			if f.Id != "" && !strings.HasPrefix(c.ID, f.Id) || f.PodSandboxId != "" && !strings.HasPrefix(x.PodSandboxId, f.PodSandboxId) ||
				f.State != nil && f.State.State != x.State || !selected(x.Labels, f.LabelSelector) {
				continue
			}
		}
		resp.Containers = append(resp.Containers, x)
	}
	return resp, nil
}

// ExecSync runs a command in a container and returns its output and
// exit code; past the timeout (seconds, 0: none) the command is killed.
func (s *Server) ExecSync(ctx context.Context, req *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	if _, err := s.criContainer(req.ContainerId); err != nil {
		return nil, grpcError(err)
	}
	if len(req.Cmd) == 0 {
		return nil, invalid("ExecSync: no command given")
	}
	id, err := s.e.ExecCreate(req.ContainerId, engine.ExecConfig{Cmd: req.Cmd})
	if err != nil {
		return nil, grpcError(err)
	}
	var stdout, stderr bytes.Buffer
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := s.e.ExecStartIO(ctx, id, engine.ExecIO{Stdout: &stdout, Stderr: &stderr}, engine.ExecStartOptions{})
		done <- result{code, err}
	}()
	var timeout <-chan time.Time
	if req.Timeout > 0 {
		timeout = time.After(time.Duration(req.Timeout) * time.Second)
	}
	var r result
	select {
	case r = <-done:
	case <-timeout:
		if in, err := s.e.ExecInspect(id); err == nil && in.Pid > 0 {
			_ = unix.Kill(in.Pid, unix.SIGKILL) // it may have ended meanwhile
		}
		<-done
		return nil, status.Errorf(codes.DeadlineExceeded, "ExecSync: command %q timed out after %ds", req.Cmd, req.Timeout)
	}
	var se *engine.StatusError
	if errors.As(r.err, &se) {
		// A command that cannot run: its code, as the kubelet's probes
		// read it, and the reason on stderr.
		return &runtimeapi.ExecSyncResponse{Stdout: stdout.Bytes(), Stderr: append(stderr.Bytes(), []byte(se.Err.Error()+"\n")...), ExitCode: int32(se.Status)}, nil
	}
	if r.err != nil {
		return nil, grpcError(r.err)
	}
	return &runtimeapi.ExecSyncResponse{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: int32(r.code)}, nil
}
