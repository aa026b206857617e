// Package cri is berth's Kubernetes Container Runtime Interface: the
// RuntimeService and ImageService a kubelet (or crictl) drives over
// gRPC, each call a few lines over the engine, with images in the
// engine's store.
//
// A pod sandbox is an engine container that runs berth's init as a
// pause process (init --pause, from the C constructor: no Go runtime),
// on the engine's networks with the pod's ports, DNS, hostname,
// sysctls and cgroup parent. The pod's containers join its network,
// IPC and UTS namespaces (and its PID namespace with POD mode) as
// Docker's container:ID modes do. A pause process rather than
// namespaces pinned on bind mounts (CRI-O's pinns): the engine's joins,
// networking, port publishing and monitors then serve pods unchanged,
// the monitor keeps the namespaces alive and reaps the pod's orphans,
// and its cost is one small process per pod.
//
// What CRI keeps beyond the engine's model (metadata, annotations, the
// image as named) is in labels under io.berth.cri., so that pods and
// containers outlive a restart of the server.
package cri

import (
	"context"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"

	"github.com/berth-project/berth/internal/engine"
)

// Server serves the CRI over one engine.
type Server struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer
	e *engine.Engine
	// version is berth's, for the Version RPC.
	version string
	streams streaming.Server
	// cni, when the node has a CNI configuration, makes pods' networks
	// instead of berth's bridge.
	cni *CNI
}

// New is a CRI server over e.
func New(e *engine.Engine, version string) *Server { return &Server{e: e, version: version} }

// UseCNI puts the pods made from now on on n's network; nil keeps them
// on berth's bridge.
func (s *Server) UseCNI(n *CNI) { s.cni = n }

// Serve answers CRI calls on l until it is closed.
func (s *Server) Serve(l net.Listener) error {
	if err := s.startStreaming(); err != nil {
		return err
	}
	g := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(g, s)
	runtimeapi.RegisterImageServiceServer(g, s)
	return g.Serve(l)
}

// grpcError gives an engine error the gRPC code its kind means.
func grpcError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, engine.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, engine.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, engine.ErrConflict):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Unknown, err.Error())
}

func invalid(format string, a ...any) error {
	return status.Error(codes.InvalidArgument, fmt.Sprintf(format, a...))
}

// Version names the runtime.
func (s *Server) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "berth", RuntimeVersion: s.version, RuntimeApiVersion: "v1"}, nil
}

// runtimeHandlers are the names RunPodSandbox takes (all berth's own
// runtime), with what the kubelet asks of one before it sends a pod
// with hostUsers false: user namespaces with idmapped mounts.
var runtimeHandlers = []string{"", "berth", "runc"}

// Status says the runtime and its network are ready: the engine is
// there as soon as the server is, and its bridge is made with the first
// pod (a CNI network's plugins are checked when a pod joins it).
func (s *Server) Status(_ context.Context, req *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	resp := &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: true},
		{Type: runtimeapi.NetworkReady, Status: true},
	}}}
	for _, h := range runtimeHandlers {
		resp.RuntimeHandlers = append(resp.RuntimeHandlers, &runtimeapi.RuntimeHandler{Name: h, Features: &runtimeapi.RuntimeHandlerFeatures{UserNamespaces: true}})
	}
	return resp, nil
}

// RuntimeConfig says berth drives cgroupfs paths, as the kubelet's
// cgroupDriver must then be.
func (s *Server) RuntimeConfig(context.Context, *runtimeapi.RuntimeConfigRequest) (*runtimeapi.RuntimeConfigResponse, error) {
	return &runtimeapi.RuntimeConfigResponse{Linux: &runtimeapi.LinuxRuntimeConfiguration{CgroupDriver: runtimeapi.CgroupDriver_CGROUPFS}}, nil
}

// UpdateRuntimeConfig takes the kubelet's pod CIDR, which berth's own
// IPAM does not need: its bridge's subnet is its own.
func (s *Server) UpdateRuntimeConfig(context.Context, *runtimeapi.UpdateRuntimeConfigRequest) (*runtimeapi.UpdateRuntimeConfigResponse, error) {
	return &runtimeapi.UpdateRuntimeConfigResponse{}, nil
}
