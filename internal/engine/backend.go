package engine

import (
	"context"
	"io"

	mobycontainer "github.com/moby/moby/api/types/container"
	mobyevents "github.com/moby/moby/api/types/events"
	mobyimage "github.com/moby/moby/api/types/image"
	mobynetwork "github.com/moby/moby/api/types/network"
	mobysystem "github.com/moby/moby/api/types/system"
	mobyvolume "github.com/moby/moby/api/types/volume"
)

// The engine's surface, one interface per area, as a front end sees it.
// References (ref) are a name, a full ID or a unique ID prefix. Errors
// carry a kind (ErrNotFound, ErrConflict, ErrInvalid) and, for a start
// that did not reach the container's own code, a StatusError.

// ContainerBackend creates, runs, inspects and removes containers.
type ContainerBackend interface {
	ContainerCreate(ctx context.Context, o CreateOptions) (mobycontainer.CreateResponse, error)
	ContainerRun(ctx context.Context, o CreateOptions, s *Streams) (RunResult, error)
	ContainerStart(ctx context.Context, ref string) error
	ContainerStartAttached(ctx context.Context, ref string, s Streams) (RunResult, error)
	ContainerAttach(ctx context.Context, ref string, s Streams) (RunResult, error)
	ContainerStop(ctx context.Context, ref string, o StopOptions) error
	ContainerRestart(ctx context.Context, ref string, o StopOptions) error
	ContainerKill(ref, signal string) error
	ContainerPause(ref string) error
	ContainerUnpause(ref string) error
	ContainerRemove(ctx context.Context, ref string, o RemoveOptions) error
	ContainerRename(ref, name string) error
	ContainerWait(ctx context.Context, ref string, cond WaitCondition) (mobycontainer.WaitResponse, error)
	ContainerList(o ListOptions) ([]mobycontainer.Summary, error)
	ContainerInspect(ref string) (*ContainerJSON, error)
	ContainerSize(ref string) (rw, rootfs int64, err error)
	ContainerLogs(ctx context.Context, ref string, o LogsOptions, stdout, stderr io.Writer) error
	ContainerTop(ref, psArgs string) (mobycontainer.TopResponse, error)
	ContainerStats(ref string) (mobycontainer.StatsResponse, error)
	ContainerPorts(ref string) ([]mobycontainer.PortSummary, error)
	ContainerChanges(ref string) ([]mobycontainer.FilesystemChange, error)
	ContainerCommit(ctx context.Context, ref string, o CommitOptions) (string, error)
	ContainerExport(ref string, w io.Writer) error
	ContainerCopyFrom(ref, src, dst string, o CopyOptions) error
	ContainerCopyTo(ref, src, dst string) error
	ContainersPrune(ctx context.Context, f Filters) (mobycontainer.PruneReport, error)
}

// ExecBackend runs processes in running containers.
type ExecBackend interface {
	ExecCreate(ref string, cfg ExecConfig) (string, error)
	ExecStart(ctx context.Context, id string, o ExecStartOptions) (int, error)
	ExecInspect(id string) (mobycontainer.ExecInspectResponse, error)
	ContainerExec(ctx context.Context, ref string, o ExecOptions) (int, error)
}

// ImageBackend moves, lists and removes images.
type ImageBackend interface {
	ImagePull(ctx context.Context, ref string, o PullOptions) (PullResult, error)
	ImagePush(ctx context.Context, ref string, o PushOptions) (string, error)
	Login(ctx context.Context, server, user, password string, o RegistryOptions) error
	Logout(server, authFile string) error
	ImageList(o ImageListOptions) ([]mobyimage.Summary, error)
	ImageInspect(ref string) (*ImageInspectResponse, error)
	ImageHistory(ref string) ([]mobyimage.HistoryResponseItem, error)
	ImageTag(src, dst string) error
	ImageRemove(ref string, force bool) ([]mobyimage.DeleteResponse, error)
	ImagesPrune(f Filters) (mobyimage.PruneReport, error)
	ImageSave(w io.Writer, refs []string, format string) error
	ImageLoad(ctx context.Context, r io.Reader, dir string) ([]LoadedImage, error)
	ImageImport(ctx context.Context, r io.Reader, o ImportOptions) (string, error)
	ImageMount(ref string) (string, error)
	ImageUnmount(ref string) error
}

// NetworkBackend manages networks and containers' endpoints on them.
type NetworkBackend interface {
	NetworkCreate(o NetworkCreateOptions) (string, error)
	NetworkList(f Filters) ([]mobynetwork.Inspect, error)
	NetworkInspect(ref string) (mobynetwork.Inspect, error)
	NetworkRemove(ref string) error
	NetworksPrune(f Filters) (mobynetwork.PruneReport, error)
	NetworkConnect(netRef, ctrRef string, o EndpointOptions) error
	NetworkDisconnect(netRef, ctrRef string) error
}

// VolumeBackend manages volumes.
type VolumeBackend interface {
	VolumeCreate(o VolumeCreateOptions) (mobyvolume.Volume, error)
	VolumeList(f Filters) ([]mobyvolume.Volume, error)
	VolumeInspect(name string) (mobyvolume.Volume, error)
	VolumeRemove(name string, force bool) error
	VolumesPrune(f Filters) (mobyvolume.PruneReport, error)
}

// SystemBackend is what is about berth as a whole.
type SystemBackend interface {
	SystemDiskUsage() (mobysystem.DiskUsage, error)
	SystemEvents(ctx context.Context, o EventsOptions, fn func(mobyevents.Message) error) error
	Inspect(ref, kind string) (any, error)
	Roots() (root, runRoot string)
}

// Backend is the whole engine, as a front end holds it.
type Backend interface {
	ContainerBackend
	ExecBackend
	ImageBackend
	NetworkBackend
	VolumeBackend
	SystemBackend
}

var _ Backend = (*Engine)(nil)
