package cri

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	mobynetwork "github.com/moby/moby/api/types/network"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-project/berth/internal/engine"
)

// PauseImage is berth's image for pod sandboxes: a root with the mount
// points and nothing else; its process is berth's init, mounted as
// --init's is.
const PauseImage = "berth.local/pause:1"

// Labels under which berth keeps what CRI needs beyond the engine.
const (
	labelPrefix      = "io.berth.cri."
	labelKind        = labelPrefix + "kind"        // "sandbox" or "container"
	labelMetadata    = labelPrefix + "metadata"    // the CRI metadata, JSON
	labelAnnotations = labelPrefix + "annotations" // the CRI annotations, JSON
	labelSandbox     = labelPrefix + "sandbox"     // a container's sandbox
	labelImage       = labelPrefix + "image"       // the image as the kubelet named it
	labelNamespaces  = labelPrefix + "namespaces"  // a sandbox's namespace options, JSON
	labelLogDir      = labelPrefix + "log-directory"
	labelHandler     = labelPrefix + "runtime-handler"
	labelCNI         = labelPrefix + "cni-network" // the CNI network a sandbox is on
)

var pauseMu sync.Mutex

// pauseImage makes the pause image the first time a pod needs it.
func (s *Server) pauseImage(ctx context.Context) error {
	pauseMu.Lock()
	defer pauseMu.Unlock()
	if _, err := s.e.ImageInspect(PauseImage); err == nil {
		return nil
	} else if !errors.Is(err, engine.ErrNotFound) {
		return err
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, d := range []string{"dev", "proc", "sys", "etc", "tmp"} {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	_, err := s.e.ImageImport(ctx, &b, engine.ImportOptions{Ref: PauseImage, Message: "berth's pod sandbox"})
	return err
}

// engineName is a pod's or container's engine name: the kubelet's
// parts, as dockershim joined them, cut with a hash of the whole when
// that is longer than a file name may be (the engine's names are).
func engineName(full string) string {
	if len(full) <= 128 {
		return full
	}
	h := sha256.Sum256([]byte(full))
	return full[:100] + "_" + hex.EncodeToString(h[:8])
}

// userLabels are the labels the kubelet gave: berth's own left out.
func userLabels(all map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range all {
		if !strings.HasPrefix(k, labelPrefix) {
			out[k] = v
		}
	}
	return out
}

func jsonLabel(v any) string {
	b, _ := json.Marshal(v) // CRI messages of strings and numbers: cannot fail
	return string(b)
}

func annotationsOf(labels map[string]string) map[string]string {
	out := map[string]string{}
	_ = json.Unmarshal([]byte(labels[labelAnnotations]), &out) // none, or berth's own JSON
	return out
}

func sandboxMetadata(labels map[string]string) *runtimeapi.PodSandboxMetadata {
	var md runtimeapi.PodSandboxMetadata
	_ = json.Unmarshal([]byte(labels[labelMetadata]), &md) // berth's own JSON; none leaves it empty
	return &md
}

func sandboxNamespaces(labels map[string]string) *runtimeapi.NamespaceOption {
	var ns runtimeapi.NamespaceOption
	_ = json.Unmarshal([]byte(labels[labelNamespaces]), &ns) // berth's own JSON; none is the POD defaults
	return &ns
}

// stamp reads an engine time (RFC 3339) as CRI's nanoseconds; zero for
// none.
func stamp(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.IsZero() || t.Year() < 2 {
		return 0
	}
	return t.UnixNano()
}

// RunPodSandbox makes and starts a pod's sandbox.
func (s *Server) RunPodSandbox(ctx context.Context, req *runtimeapi.RunPodSandboxRequest) (*runtimeapi.RunPodSandboxResponse, error) {
	cfg := req.GetConfig()
	md := cfg.GetMetadata()
	if md == nil || md.Name == "" || md.Namespace == "" || md.Uid == "" {
		return nil, invalid("RunPodSandbox: metadata needs a name, namespace and uid")
	}
	if !slices.Contains(runtimeHandlers, req.RuntimeHandler) {
		return nil, invalid("RunPodSandbox: no runtime handler %q (berth has one: berth)", req.RuntimeHandler)
	}
	if err := s.pauseImage(ctx); err != nil {
		return nil, grpcError(err)
	}
	sc := cfg.GetLinux().GetSecurityContext()
	ns := sc.GetNamespaceOptions()
	if ns == nil {
		ns = &runtimeapi.NamespaceOption{}
	}
	labels := userLabels(cfg.Labels)
	labels[labelKind], labels[labelMetadata] = "sandbox", jsonLabel(md)
	labels[labelAnnotations], labels[labelNamespaces] = jsonLabel(cfg.Annotations), jsonLabel(ns)
	labels[labelLogDir], labels[labelHandler] = cfg.LogDirectory, req.RuntimeHandler
	init := true
	hc := mobycontainer.HostConfig{Init: &init, NetworkMode: "bridge", IpcMode: "shareable", Privileged: sc.GetPrivileged(),
		Sysctls: cfg.GetLinux().GetSysctls(), ReadonlyRootfs: true}
	hc.CgroupParent = cfg.GetLinux().GetCgroupParent()
	hostNet := ns.Network == runtimeapi.NamespaceMode_NODE
	// On a CNI network the engine makes an empty network namespace and
	// the plugins furnish it once the pause process holds it.
	onCNI := s.cni != nil && !hostNet
	switch {
	case hostNet:
		hc.NetworkMode = "host"
	case onCNI:
		hc.NetworkMode, labels[labelCNI] = "none", s.cni.Name()
	}
	if ns.Ipc == runtimeapi.NamespaceMode_NODE {
		hc.IpcMode = "host"
	}
	if ns.Pid == runtimeapi.NamespaceMode_NODE {
		hc.PidMode = "host"
	}
	if dns := cfg.GetDnsConfig(); dns != nil {
		for _, a := range dns.Servers {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				return nil, invalid("RunPodSandbox: DNS server %q: not an IP address", a)
			}
			hc.DNS = append(hc.DNS, ip)
		}
		hc.DNSSearch, hc.DNSOptions = dns.Searches, dns.Options
	}
	if !hostNet && !onCNI {
		var err error
		if hc.PortBindings, err = portBindings(cfg.PortMappings); err != nil {
			return nil, err
		}
	}
	idMap, err := idMapOf(ns.UsernsOptions)
	if err != nil {
		return nil, err
	}
	c := mobycontainer.Config{Image: PauseImage, Cmd: []string{"/dev/init", "--pause"}, Labels: labels}
	if !hostNet {
		c.Hostname = cfg.Hostname
	}
	name := engineName(fmt.Sprintf("k8s_POD_%s_%s_%s_%d", md.Name, md.Namespace, md.Uid, md.Attempt))
	res, err := s.e.ContainerCreate(ctx, engine.CreateOptions{Name: name, Config: c, HostConfig: hc, IDMap: idMap})
	if err != nil {
		return nil, grpcError(err)
	}
	err = s.e.ContainerStart(ctx, res.ID)
	if err == nil && onCNI {
		err = s.cniAdd(ctx, res.ID, md, cfg.PortMappings)
	}
	if err != nil {
		// Undoes the half-made sandbox; the start's error is the one to report.
		_ = s.e.ContainerRemove(ctx, res.ID, engine.RemoveOptions{Force: true})
		return nil, grpcError(err)
	}
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: res.ID}, nil
}

// cniAdd puts the started sandbox id on the CNI network, through the
// network namespace its pause process holds; a failed add is undone,
// so that the plugins' address and interfaces go with the sandbox.
func (s *Server) cniAdd(ctx context.Context, id string, md *runtimeapi.PodSandboxMetadata, pms []*runtimeapi.PortMapping) error {
	in, err := s.e.ContainerInspect(id)
	if err != nil {
		return err
	}
	netns := in.NetworkSettings.SandboxKey // the pause's namespace, while it runs
	if netns == "" {
		return fmt.Errorf("pod sandbox %s is not running", id)
	}
	if _, err = s.cni.add(ctx, id, netns, md, pms); err != nil {
		if derr := s.cni.del(ctx, id, netns, md); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	return err
}

// cniDel takes a sandbox off its CNI network: through its namespace
// while the pause process holds one, else by what the plugins recorded.
func (s *Server) cniDel(ctx context.Context, sb *engine.ContainerJSON) error {
	if sb.Config.Labels[labelCNI] == "" {
		return nil
	}
	if s.cni == nil {
		return fmt.Errorf("pod sandbox %s is on CNI network %s, and this server has no CNI configuration", sb.ID, sb.Config.Labels[labelCNI])
	}
	netns := "" // a stopped sandbox's namespace is gone
	if sb.NetworkSettings != nil {
		netns = sb.NetworkSettings.SandboxKey
	}
	return s.cni.del(ctx, sb.ID, netns, sandboxMetadata(sb.Config.Labels))
}

// idMapOf reads a pod's user namespace: none (or NODE) is the host's;
// POD maps the pod's users and groups to the host range the kubelet
// chose, as berth maps a container's (one range from ID 0, the same for
// both), which the pod's containers share.
func idMapOf(u *runtimeapi.UserNamespace) (*engine.IDRange, error) {
	if u == nil || u.Mode == runtimeapi.NamespaceMode_NODE {
		return nil, nil
	}
	if u.Mode != runtimeapi.NamespaceMode_POD {
		return nil, invalid("user namespace mode %s: a pod's is POD or NODE", u.Mode)
	}
	if len(u.Uids) != 1 || len(u.Gids) != 1 {
		return nil, invalid("user namespace: berth maps a pod's users and groups in one range each, not %d and %d", len(u.Uids), len(u.Gids))
	}
	uid, gid := u.Uids[0], u.Gids[0]
	if uid.ContainerId != 0 || uid.Length == 0 || uid.HostId != gid.HostId || uid.ContainerId != gid.ContainerId || uid.Length != gid.Length {
		return nil, invalid("user namespace: berth maps users and groups alike from container ID 0 (uid %d:%d:%d, gid %d:%d:%d)",
			uid.ContainerId, uid.HostId, uid.Length, gid.ContainerId, gid.HostId, gid.Length)
	}
	if uint64(uid.HostId)+uint64(uid.Length) > 1<<32-1 {
		return nil, invalid("user namespace: host IDs %d+%d pass the largest ID", uid.HostId, uid.Length)
	}
	return &engine.IDRange{Start: uid.HostId, Size: uid.Length}, nil
}

// portBindings are a pod's port mappings as the engine publishes them;
// a mapping without a host port publishes nothing, as with containerd.
func portBindings(pms []*runtimeapi.PortMapping) (mobynetwork.PortMap, error) {
	out := mobynetwork.PortMap{}
	for _, pm := range pms {
		if pm.HostPort == 0 {
			continue
		}
		proto := strings.ToLower(pm.Protocol.String())
		p, err := mobynetwork.ParsePort(strconv.Itoa(int(pm.ContainerPort)) + "/" + proto)
		if err != nil {
			return nil, invalid("RunPodSandbox: port mapping %d/%s: %v", pm.ContainerPort, proto, err)
		}
		b := mobynetwork.PortBinding{HostPort: strconv.Itoa(int(pm.HostPort))}
		if pm.HostIp != "" {
			if b.HostIP, err = netip.ParseAddr(pm.HostIp); err != nil {
				return nil, invalid("RunPodSandbox: port mapping host IP %q: not an IP address", pm.HostIp)
			}
		}
		out[p] = append(out[p], b)
	}
	return out, nil
}

// sandbox inspects a sandbox by ID (or prefix).
func (s *Server) sandbox(id string) (*engine.ContainerJSON, error) {
	if id == "" {
		return nil, invalid("no pod sandbox ID given")
	}
	in, err := s.e.ContainerInspect(id)
	if err != nil {
		return nil, err
	}
	if in.Config.Labels[labelKind] != "sandbox" {
		return nil, fmt.Errorf("%w: pod sandbox %s", engine.ErrNotFound, id)
	}
	return in, nil
}

// podContainers are the IDs of a sandbox's containers.
func (s *Server) podContainers(id string) ([]string, error) {
	list, err := s.e.ContainerList(engine.ListOptions{All: true, Filters: engine.Filters{"label": {labelSandbox + "=" + id}}})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(list))
	for _, c := range list {
		out = append(out, c.ID)
	}
	return out, nil
}

// StopPodSandbox stops a pod's containers, then its sandbox; a sandbox
// that is gone or stopped already is no error.
func (s *Server) StopPodSandbox(ctx context.Context, req *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	sb, err := s.sandbox(req.PodSandboxId)
	if errors.Is(err, engine.ErrNotFound) {
		return &runtimeapi.StopPodSandboxResponse{}, nil
	}
	if err != nil {
		return nil, grpcError(err)
	}
	ids, err := s.podContainers(sb.ID)
	if err != nil {
		return nil, grpcError(err)
	}
	if err := s.cniDel(ctx, sb); err != nil {
		return nil, grpcError(err)
	}
	zero := 0
	for _, id := range append(ids, sb.ID) {
		if err := s.e.ContainerStop(ctx, id, engine.StopOptions{Timeout: &zero}); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return nil, grpcError(err)
		}
	}
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

// RemovePodSandbox removes a pod's containers and its sandbox, running
// or not; one that is gone is no error.
func (s *Server) RemovePodSandbox(ctx context.Context, req *runtimeapi.RemovePodSandboxRequest) (*runtimeapi.RemovePodSandboxResponse, error) {
	sb, err := s.sandbox(req.PodSandboxId)
	if errors.Is(err, engine.ErrNotFound) {
		return &runtimeapi.RemovePodSandboxResponse{}, nil
	}
	if err != nil {
		return nil, grpcError(err)
	}
	// A second DEL after the stop's is harmless to the plugins, and
	// releases the address of a sandbox removed without a stop.
	if err := s.cniDel(ctx, sb); err != nil {
		return nil, grpcError(err)
	}
	ids, err := s.podContainers(sb.ID)
	if err != nil {
		return nil, grpcError(err)
	}
	for _, id := range append(ids, sb.ID) {
		if err := s.e.ContainerRemove(ctx, id, engine.RemoveOptions{Force: true, Volumes: true}); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return nil, grpcError(err)
		}
	}
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

func sandboxState(running bool) runtimeapi.PodSandboxState {
	if running {
		return runtimeapi.PodSandboxState_SANDBOX_READY
	}
	return runtimeapi.PodSandboxState_SANDBOX_NOTREADY
}

// PodSandboxStatus describes a sandbox: its state, its IP, its options.
func (s *Server) PodSandboxStatus(_ context.Context, req *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	sb, err := s.sandbox(req.PodSandboxId)
	if err != nil {
		return nil, grpcError(err)
	}
	labels := sb.Config.Labels
	st := &runtimeapi.PodSandboxStatus{Id: sb.ID, Metadata: sandboxMetadata(labels), State: sandboxState(sb.State.Running),
		CreatedAt: stamp(sb.Created), Network: &runtimeapi.PodSandboxNetworkStatus{},
		Linux:  &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: sandboxNamespaces(labels)}},
		Labels: userLabels(labels), Annotations: annotationsOf(labels), RuntimeHandler: labels[labelHandler]}
	if labels[labelCNI] != "" && s.cni != nil {
		st.Network.Ip = s.cni.ip(sb.ID, sandboxMetadata(labels))
	} else if sb.NetworkSettings != nil {
		for _, ep := range sb.NetworkSettings.Networks {
			if ep != nil && ep.IPAddress.IsValid() {
				st.Network.Ip = ep.IPAddress.String()
			}
		}
	}
	resp := &runtimeapi.PodSandboxStatusResponse{Status: st}
	if req.Verbose {
		resp.Info = map[string]string{"info": jsonLabel(sb)}
	}
	return resp, nil
}

// ListPodSandbox lists sandboxes, by ID prefix, state and labels.
func (s *Server) ListPodSandbox(_ context.Context, req *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	list, err := s.e.ContainerList(engine.ListOptions{All: true, Filters: engine.Filters{"label": {labelKind + "=sandbox"}}})
	if err != nil {
		return nil, grpcError(err)
	}
	f := req.GetFilter()
	resp := &runtimeapi.ListPodSandboxResponse{}
	for _, c := range list {
		p := &runtimeapi.PodSandbox{Id: c.ID, Metadata: sandboxMetadata(c.Labels), State: sandboxState(c.State == "running"),
			CreatedAt: time.Unix(c.Created, 0).UnixNano(), Labels: userLabels(c.Labels), Annotations: annotationsOf(c.Labels),
			RuntimeHandler: c.Labels[labelHandler]}
		if f != nil {
			if f.Id != "" && !strings.HasPrefix(c.ID, f.Id) || f.State != nil && f.State.State != p.State || !selected(p.Labels, f.LabelSelector) {
				continue
			}
		}
		resp.Items = append(resp.Items, p)
	}
	return resp, nil
}

// selected says whether labels have every key and value of sel.
func selected(labels, sel map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
