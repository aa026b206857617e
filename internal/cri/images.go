package cri

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	mobyimage "github.com/moby/moby/api/types/image"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-project/berth/internal/engine"
)

// criImage is an engine image as the CRI lists it.
func criImage(id string, tags, digests []string, size int64, user string) *runtimeapi.Image {
	img := &runtimeapi.Image{Id: id, RepoTags: tags, RepoDigests: digests, Size: uint64(max(size, 0)), Spec: &runtimeapi.ImageSpec{Image: id}}
	// The image's user: a uid, or a name the kubelet checks against
	// runAsNonRoot.
	u, _, _ := strings.Cut(user, ":")
	if n, err := strconv.ParseInt(u, 10, 64); err == nil {
		img.Uid = &runtimeapi.Int64Value{Value: n}
	} else {
		img.Username = u
	}
	return img
}

// ListImages lists the engine's images, or those a filter names.
func (s *Server) ListImages(_ context.Context, req *runtimeapi.ListImagesRequest) (*runtimeapi.ListImagesResponse, error) {
	all, err := s.e.ImageList(engine.ImageListOptions{})
	if err != nil {
		return nil, grpcError(err)
	}
	// A filter names one image, as the engine resolves names (tags,
	// digests, IDs and their prefixes).
	var want string
	if f := req.GetFilter().GetImage(); f != nil && f.Image != "" {
		in, err := s.e.ImageInspect(f.Image)
		if errors.Is(err, engine.ErrNotFound) {
			return &runtimeapi.ListImagesResponse{}, nil
		}
		if err != nil {
			return nil, grpcError(err)
		}
		want = in.ID
	}
	resp := &runtimeapi.ListImagesResponse{}
	for _, im := range all {
		if im.ID == pauseImageID(all) {
			continue // berth's own, for pods: not the kubelet's to collect
		}
		if want != "" && im.ID != want {
			continue
		}
		in, err := s.e.ImageInspect(im.ID)
		user := ""
		if err == nil && in.Config != nil {
			user = in.Config.User
		}
		resp.Images = append(resp.Images, criImage(im.ID, im.RepoTags, im.RepoDigests, im.Size, user))
	}
	return resp, nil
}

// pauseImageID is the ID of berth's pause image among all, if there.
func pauseImageID(all []mobyimage.Summary) string {
	for _, im := range all {
		if slices.Contains(im.RepoTags, PauseImage) {
			return im.ID
		}
	}
	return ""
}

// ImageStatus describes an image, or nothing when it is not here (not
// an error: the kubelet pulls then).
func (s *Server) ImageStatus(_ context.Context, req *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	ref := req.GetImage().GetImage()
	if ref == "" {
		return nil, invalid("ImageStatus: no image given")
	}
	in, err := s.e.ImageInspect(ref)
	if errors.Is(err, engine.ErrNotFound) {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	if err != nil {
		return nil, grpcError(err)
	}
	user := ""
	if in.Config != nil {
		user = in.Config.User
	}
	resp := &runtimeapi.ImageStatusResponse{Image: criImage(in.ID, in.RepoTags, in.RepoDigests, in.Size, user)}
	if req.Verbose {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, grpcError(err)
		}
		resp.Info = map[string]string{"info": string(b)}
	}
	return resp, nil
}

// PullImage pulls into the engine's store, with the kubelet's
// credentials for the image's registry when it sent some.
func (s *Server) PullImage(ctx context.Context, req *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	ref := req.GetImage().GetImage()
	if ref == "" {
		return nil, invalid("PullImage: no image given")
	}
	var o engine.PullOptions
	if a := req.GetAuth(); a != nil {
		cred := engine.RegistryAuth{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, invalid("PullImage: auth: %v", err)
			}
			cred.Username, cred.Password, _ = strings.Cut(string(raw), ":")
		}
		o.Auth = map[string]engine.RegistryAuth{"": cred}
	}
	res, err := s.e.ImagePull(ctx, ref, o)
	if err != nil {
		return nil, grpcError(err)
	}
	return &runtimeapi.PullImageResponse{ImageRef: res.ID}, nil
}

// RemoveImage removes an image; one that is not there is no error.
func (s *Server) RemoveImage(_ context.Context, req *runtimeapi.RemoveImageRequest) (*runtimeapi.RemoveImageResponse, error) {
	ref := req.GetImage().GetImage()
	if ref == "" {
		return nil, invalid("RemoveImage: no image given")
	}
	in, err := s.e.ImageInspect(ref)
	if errors.Is(err, engine.ErrNotFound) {
		return &runtimeapi.RemoveImageResponse{}, nil
	}
	if err != nil {
		return nil, grpcError(err)
	}
	// By ID, every tag goes with it (as containerd's and CRI-O's); by
	// name, that name. An image a container uses stays.
	target := ref
	if strings.HasPrefix(in.ID, ref) || strings.HasPrefix(strings.TrimPrefix(in.ID, "sha256:"), ref) {
		target = in.ID
	}
	all, err := s.e.ImageList(engine.ImageListOptions{All: true})
	if err != nil {
		return nil, grpcError(err)
	}
	for _, im := range all {
		if im.ID == in.ID && im.Containers > 0 && (target == in.ID || len(im.RepoTags) <= 1) {
			return nil, status.Errorf(codes.FailedPrecondition, "RemoveImage: image %s is in use by a container", ref)
		}
	}
	if _, err := s.e.ImageRemove(target, target == in.ID); err != nil && !errors.Is(err, engine.ErrNotFound) {
		return nil, grpcError(err)
	}
	return &runtimeapi.RemoveImageResponse{}, nil
}

// ImageFsInfo is the image store's use of its filesystem: the layers'
// bytes, and the filesystem's used inodes.
func (s *Server) ImageFsInfo(context.Context, *runtimeapi.ImageFsInfoRequest) (*runtimeapi.ImageFsInfoResponse, error) {
	root, _ := s.e.Roots()
	du, err := s.e.SystemDiskUsage()
	if err != nil {
		return nil, grpcError(err)
	}
	var used int64
	if du.ImageUsage != nil {
		used = du.ImageUsage.TotalSize
	}
	var inodes uint64
	var st unix.Statfs_t
	if unix.Statfs(root, &st) == nil {
		inodes = st.Files - st.Ffree
	}
	fs := &runtimeapi.FilesystemUsage{Timestamp: time.Now().UnixNano(), FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: root},
		UsedBytes: &runtimeapi.UInt64Value{Value: uint64(max(used, 0))}, InodesUsed: &runtimeapi.UInt64Value{Value: inodes}}
	return &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{fs}, ContainerFilesystems: []*runtimeapi.FilesystemUsage{fs}}, nil
}
