package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	mobyevents "github.com/moby/moby/api/types/events"
	mobyimage "github.com/moby/moby/api/types/image"
	mobyregistry "github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/storage"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/image/reference"
	"github.com/berth-project/berth/internal/progress"
	"github.com/berth-project/berth/internal/runtime"
)

// RegistryOptions are how berth talks to a registry.
type RegistryOptions struct {
	// Insecure allows plain HTTP and unverified TLS (--tls-verify=false).
	// Loopback registries are always reached over plain HTTP, as Docker
	// does.
	Insecure bool
	// AuthFile holds the credentials; "" is Docker's config.json (and
	// Podman's auth.json), as Login writes them.
	AuthFile string
	// Auth are credentials a client sent with its request, by registry
	// ("" for the one the image is on); a registry without any falls
	// back to AuthFile's.
	Auth map[string]RegistryAuth
}

// RegistryAuth is one registry's credentials.
type RegistryAuth = image.Credentials

func (r RegistryOptions) image() image.RegistryOptions {
	o := image.RegistryOptions{Insecure: r.Insecure, UserAgent: "berth/" + runtime.Version}
	if r.AuthFile != "" {
		o.Keychain = image.FileKeychain(r.AuthFile)
	}
	if len(r.Auth) > 0 {
		o.Keychain = image.StaticKeychain{Auths: r.Auth, Next: o.Keychain}
	}
	return o
}

// PullOptions are pull's.
type PullOptions struct {
	RegistryOptions
	// Platform is os/arch[/variant]; "" is this host's.
	Platform string
	// Progress receives the layers' progress: bars on a terminal, lines
	// otherwise; nil shows nothing.
	Progress io.Writer
}

func reporter(w io.Writer) progress.Reporter {
	if w == nil {
		return progress.New(io.Discard, progress.Quiet)
	}
	return progress.New(w, progress.Auto)
}

func parsePlatform(s string) (*v1.Platform, error) {
	if s == "" {
		return nil, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return nil, invalid(fmt.Errorf("platform %q: %w", s, err))
	}
	return p, nil
}

func (e *Engine) pullOptions(o PullOptions) (image.PullOptions, error) {
	p, err := parsePlatform(o.Platform)
	if err != nil {
		return image.PullOptions{}, err
	}
	ro := o.RegistryOptions.image()
	ro.Mirrors = e.mirrors
	return image.PullOptions{RegistryOptions: ro, Platform: p, Progress: reporter(o.Progress)}, nil
}

// PullResult names a pulled image.
type PullResult struct {
	ID string
	// Name is the reference pulled, normalised (docker.io/library/busybox:latest).
	Name string
	// Digest is the manifest's digest in the registry.
	Digest string
}

// ImagePull downloads an image and its layers. Nothing is registered
// until every blob is complete and verified: an interrupted pull leaves
// nothing.
func (e *Engine) ImagePull(ctx context.Context, ref string, o PullOptions) (PullResult, error) {
	po, err := e.pullOptions(o)
	if err != nil {
		return PullResult{}, err
	}
	img, err := e.images.Pull(ctx, ref, po)
	if err != nil {
		return PullResult{}, classify(err)
	}
	res := PullResult{ID: img.ID.String()}
	if r, err := reference.Parse(ref); err == nil {
		res.Name = r.String()
	}
	e.imageEvent(mobyevents.ActionPull, res.Name, res.Name)
	if len(img.RepoDigests) > 0 {
		_, res.Digest, _ = strings.Cut(img.RepoDigests[0], "@")
	}
	return res, nil
}

// PushOptions are push's.
type PushOptions struct {
	RegistryOptions
	Progress io.Writer // as PullOptions'
}

// ImageTags lists a repository's tags in its registry (pull -a).
func (e *Engine) ImageTags(ctx context.Context, repository string, o RegistryOptions) ([]string, error) {
	tags, err := image.Tags(ctx, repository, o.image())
	return tags, classify(err)
}

// LocalTags lists the names this store has of a repository
// (repository:tag, as Docker's CLI shows them; push -a).
func (e *Engine) LocalTags(repository string) ([]string, error) {
	imgs, err := e.images.List()
	if err != nil {
		return nil, classify(err)
	}
	want, err := reference.Parse(repository)
	if err != nil {
		return nil, invalid(err)
	}
	var out []string
	for _, img := range imgs {
		for _, n := range img.Names {
			r, err := reference.Parse(n)
			if err == nil && r.Name() == want.Name() && r.Tag != "" {
				out = append(out, reference.FamiliarName(r.Name())+":"+r.Tag)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// ImagePush uploads an image to the registry its name points at, and
// returns the manifest digest the registry serves it by.
func (e *Engine) ImagePush(ctx context.Context, ref string, o PushOptions) (string, error) {
	d, err := e.images.Push(ctx, ref, image.PushOptions{RegistryOptions: o.RegistryOptions.image(), Progress: reporter(o.Progress)})
	if err != nil {
		return "", classify(err)
	}
	e.imageEvent(mobyevents.ActionPush, ref, ref)
	return d.String(), nil
}

// Login checks credentials with a registry and stores them.
func (e *Engine) Login(ctx context.Context, server, user, password string, o RegistryOptions) error {
	return image.Login(ctx, server, user, password, o.AuthFile, o.image())
}

// CheckLogin checks credentials with a registry and stores nothing.
func (e *Engine) CheckLogin(ctx context.Context, server, user, password string, o RegistryOptions) error {
	err := image.CheckLogin(ctx, server, user, password, o.image())
	if errors.Is(err, image.ErrUnauthorized) {
		return withKind(ErrUnauthorized, err)
	}
	return err
}

// ErrNotLoggedIn is Logout's for a registry it has no credentials of.
var ErrNotLoggedIn = image.ErrNotLoggedIn

// Logout removes a registry's stored credentials.
func (e *Engine) Logout(server, authFile string) error { return image.Logout(server, authFile) }

// ImageListOptions are images'.
type ImageListOptions struct {
	// All lists the builder's untagged intermediate images too.
	All bool
	// Filters: dangling=true|false, reference=PATTERN, label=, before=,
	// since=.
	Filters Filters
	// Manifests fills each image's Manifests (images --tree, the API's
	// manifests=1): an image here has one, this host's platform.
	Manifests bool
}

// ImageList lists images, newest first, as Docker's images does: one
// entry per image, with every name in RepoTags.
func (e *Engine) ImageList(o ImageListOptions) ([]mobyimage.Summary, error) {
	f := o.Filters
	if err := f.check("dangling", "reference", "label", "label!", "before", "since"); err != nil {
		return nil, err
	}
	dangling, danglingSet, err := f.boolean("dangling")
	if err != nil {
		return nil, err
	}
	imgs, err := e.images.List()
	if err != nil {
		return nil, err
	}
	var before, since *image.Image
	for _, b := range []struct {
		key string
		dst **image.Image
	}{{"before", &before}, {"since", &since}} {
		if refs := f[b.key]; len(refs) > 0 {
			img, err := e.images.Get(refs[0])
			if err != nil {
				return nil, invalid(fmt.Errorf("invalid filter '%s=%s': %w", b.key, refs[0], err))
			}
			*b.dst = img
		}
	}
	hidden := map[string]bool{}
	if !o.All {
		hidden = e.buildCacheImages()
	}
	users := map[string][]string{}
	if cs, err := e.containers.List(); err == nil {
		for _, c := range cs {
			users[c.Image] = append(users[c.Image], c.ID)
		}
	}
	out := []mobyimage.Summary{}
	for i := len(imgs) - 1; i >= 0; i-- { // newest first
		img := imgs[i]
		var labels map[string]string
		created := time.Time{}
		if img.Config != nil {
			labels, created = img.Config.Config.Labels, img.Config.Created.Time
		}
		if danglingSet && (len(img.Names) == 0) != dangling || !f.labels(labels) || len(img.Names) == 0 && hidden[img.ID.String()] {
			continue
		}
		if before != nil && !created.Before(before.Config.Created.Time) || since != nil && !created.After(since.Config.Created.Time) {
			continue
		}
		s := mobyimage.Summary{ID: img.ID.String(), RepoTags: []string{}, RepoDigests: []string{}, Created: created.Unix(),
			Size: e.images.Size(img), Labels: labels, Containers: int64(len(users[img.ID.String()])), ParentID: img.Record.Parent}
		if o.Manifests {
			s.Manifests = []mobyimage.ManifestSummary{e.manifestSummary(img, s.Size, users[img.ID.String()])}
		}
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		for _, n := range img.Names {
			r, err := reference.Parse(n)
			if err != nil {
				continue
			}
			repo, tag := reference.FamiliarName(r.Name()), r.Tag
			if len(f["reference"]) > 0 && !f.any("reference", func(pat string) bool { return globMatch(pat, repo, tag) }) {
				continue
			}
			s.RepoTags = append(s.RepoTags, repo+":"+tag)
		}
		for _, d := range img.RepoDigests {
			name, dg, _ := strings.Cut(d, "@")
			s.RepoDigests = append(s.RepoDigests, reference.FamiliarName(name)+"@"+dg)
		}
		if len(f["reference"]) > 0 && len(s.RepoTags) == 0 {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// manifestSummary is an image's one manifest as the API's list shows a
// platform variant: its blobs (Content), those and the unpacked layers
// (Total), and the containers that use it.
func (e *Engine) manifestSummary(img *image.Image, unpacked int64, containers []string) mobyimage.ManifestSummary {
	ms := mobyimage.ManifestSummary{ID: img.Record.Manifest.String(), Available: true, Kind: mobyimage.ManifestKindImage}
	ms.Descriptor = ocispec.Descriptor{MediaType: string(img.Record.MediaType), Digest: digest.Digest(img.Record.Manifest.String())}
	if n, ok := e.images.Content.Size(img.Record.Manifest); ok {
		ms.Descriptor.Size = n
	}
	ms.Size.Content = ms.Descriptor.Size
	if img.Manifest != nil {
		ms.Size.Content += img.Manifest.Config.Size
		for _, l := range img.Manifest.Layers {
			ms.Size.Content += l.Size
		}
	}
	ms.Size.Total = ms.Size.Content + unpacked
	props := &mobyimage.ImageProperties{Containers: containers}
	if props.Containers == nil {
		props.Containers = []string{}
	}
	if img.Config != nil {
		props.Platform = ocispec.Platform{OS: img.Config.OS, Architecture: img.Config.Architecture, Variant: img.Config.Variant, OSVersion: img.Config.OSVersion}
	}
	ms.Descriptor.Platform = &props.Platform
	props.Size.Unpacked = unpacked
	ms.ImageData = props
	return ms
}

// globMatch matches "repo" or "repo:tag" patterns with * wildcards.
func globMatch(pat, repo, tag string) bool {
	// The tag follows the last colon after the last slash: a registry's
	// port (localhost:5000/app) is not one.
	prepo, ptag, hasTag := pat, "", false
	if i := strings.LastIndexByte(pat, ':'); i > strings.LastIndexByte(pat, '/') {
		prepo, ptag, hasTag = pat[:i], pat[i+1:], true
	}
	if ok, _ := path.Match(prepo, repo); !ok {
		return false
	}
	if hasTag {
		ok, _ := path.Match(ptag, tag)
		return ok
	}
	return true
}

// ImageInspectResponse is Docker's image inspect with Parent (the image
// a commit or a classic build's step started from), which API 1.52
// took out of the type and older clients still read.
type ImageInspectResponse struct {
	mobyimage.InspectResponse
	Parent string
}

// ImageInspect describes an image as Docker's image inspect does.
func (e *Engine) ImageInspect(ref string) (*ImageInspectResponse, error) {
	img, err := e.images.Get(ref)
	if err != nil {
		return nil, classify(err)
	}
	in := e.images.Inspect(img)
	c := in.Config
	out := &ImageInspectResponse{Parent: in.Parent}
	out.InspectResponse = mobyimage.InspectResponse{ID: in.ID, RepoTags: orEmpty(in.RepoTags), RepoDigests: orEmpty(in.RepoDigests),
		Comment: in.Comment, Created: in.Created, Author: in.Author, Architecture: in.Architecture, Variant: in.Variant,
		Os: in.Os, Size: in.Size, GraphDriver: &storage.DriverData{Name: in.GraphDriver.Name, Data: in.GraphDriver.Data},
		RootFS:   mobyimage.RootFS{Type: in.RootFS.Type, Layers: in.RootFS.Layers},
		Metadata: mobyimage.Metadata{},
		Config: &dockerspec.DockerOCIImageConfig{
			ImageConfig: ocispec.ImageConfig{User: c.User, ExposedPorts: c.ExposedPorts, Env: c.Env, Entrypoint: c.Entrypoint,
				Cmd: c.Cmd, Volumes: c.Volumes, WorkingDir: c.WorkingDir, Labels: c.Labels, StopSignal: c.StopSignal,
				ArgsEscaped: c.ArgsEscaped},
			DockerOCIImageConfigExt: dockerspec.DockerOCIImageConfigExt{OnBuild: c.OnBuild, Shell: c.Shell},
		},
	}
	if t, err := time.Parse(time.RFC3339Nano, in.Metadata.LastTagTime); err == nil {
		out.Metadata.LastTagTime = t
	}
	if h := c.Healthcheck; h != nil {
		out.Config.Healthcheck = &dockerspec.HealthcheckConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: img.HealthStartInterval(), Retries: h.Retries}
	}
	if size, ok := e.images.Content.Size(img.Record.Manifest); ok {
		out.Descriptor = &ocispec.Descriptor{MediaType: string(img.Record.MediaType), Digest: digest.Digest(img.Record.Manifest.String()), Size: size}
	}
	return out, nil
}

// ImageHistory lists the steps that built an image, newest first.
func (e *Engine) ImageHistory(ref string) ([]mobyimage.HistoryResponseItem, error) {
	img, err := e.images.Get(ref)
	if err != nil {
		return nil, classify(err)
	}
	out := []mobyimage.HistoryResponseItem{}
	for _, h := range e.images.History(img) {
		out = append(out, mobyimage.HistoryResponseItem{ID: h.ID, Created: h.Created.Unix(), CreatedBy: h.CreatedBy, Size: h.Size,
			Comment: h.Comment, Tags: []string{}})
	}
	return out, nil
}

// ImageTag gives an image another name.
func (e *Engine) ImageTag(src, dst string) error {
	if err := e.images.Tag(src, dst); err != nil {
		return classify(err)
	}
	if img, err := e.images.Get(dst); err == nil {
		e.imageEvent(mobyevents.ActionTag, img.ID.String(), dst)
	}
	return nil
}

// imageEvent records an image event: Docker names the image's ID (or
// reference) and gives its name.
func (e *Engine) imageEvent(action mobyevents.Action, id, name string) {
	e.emit(mobyevents.ImageEventType, action, id, map[string]string{"name": name})
}

// ImageRemove is rmi of one reference: by name it removes that name, and
// the image when no name is left; by ID the image. An image in use, or
// one an ID names under several repositories, stays unless forced.
func (e *Engine) ImageRemove(ref string, force bool) ([]mobyimage.DeleteResponse, error) {
	r, err := e.images.Remove(ref, force)
	e.removalEvents(r)
	return deleteResponses(r), classify(err)
}

func (e *Engine) removalEvents(r image.Removal) {
	for _, u := range r.Untagged {
		e.imageEvent(mobyevents.ActionUnTag, u, u)
	}
	for _, d := range r.Deleted {
		e.imageEvent(mobyevents.ActionDelete, d, d)
	}
}

func deleteResponses(r image.Removal) []mobyimage.DeleteResponse {
	out := []mobyimage.DeleteResponse{}
	for _, u := range r.Untagged {
		out = append(out, mobyimage.DeleteResponse{Untagged: u})
	}
	for _, d := range r.Deleted {
		out = append(out, mobyimage.DeleteResponse{Deleted: d})
	}
	return out
}

// ImagesPrune removes dangling images, or every image no container uses
// with dangling=false, as Docker's image prune (-a).
func (e *Engine) ImagesPrune(f Filters) (mobyimage.PruneReport, error) {
	if err := f.check("dangling", "until", "label", "label!"); err != nil {
		return mobyimage.PruneReport{}, err
	}
	dangling, set, err := f.boolean("dangling")
	if err != nil {
		return mobyimage.PruneReport{}, err
	}
	until, err := f.until(time.Now())
	if err != nil {
		return mobyimage.PruneReport{}, err
	}
	// The images the label and until filters keep, by ID.
	var spare func(string) bool
	if len(f["label"]) > 0 || len(f["label!"]) > 0 || !until.IsZero() {
		imgs, err := e.images.List()
		if err != nil {
			return mobyimage.PruneReport{}, classify(err)
		}
		kept := map[string]bool{}
		for _, img := range imgs {
			var labels map[string]string
			var created time.Time
			if img.Config != nil {
				labels, created = img.Config.Config.Labels, img.Config.Created.Time
			}
			if !f.labels(labels) || !until.IsZero() && !created.Before(until) {
				kept[img.ID.String()] = true
			}
		}
		spare = func(id string) bool { return kept[id] }
	}
	r, err := e.images.Prune(set && !dangling, spare)
	e.removalEvents(r)
	return mobyimage.PruneReport{ImagesDeleted: deleteResponses(r), SpaceReclaimed: uint64(r.Freed)}, classify(err)
}

// Archive formats of ImageSave.
const (
	DockerArchive = image.DockerArchive
	OCIArchive    = image.OCIArchive
)

// ImageSave writes images to w as a tar: DockerArchive ("" too) or
// OCIArchive.
func (e *Engine) ImageSave(w io.Writer, refs []string, format string) error {
	return classify(e.images.Save(w, refs, format))
}

// ImageSaveFile is ImageSave to a file: written beside it and renamed,
// so that an interrupted save leaves no truncated archive under the
// name.
func (e *Engine) ImageSaveFile(file string, refs []string, format string) error {
	dir := "."
	if i := strings.LastIndexByte(file, '/'); i > 0 {
		dir = file[:i]
	} else if i == 0 {
		dir = "/"
	}
	tmp, err := os.CreateTemp(dir, ".berth-save-*")
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename: ENOENT, as intended
	if err := e.ImageSave(tmp, refs, format); err != nil {
		_ = tmp.Close() // the error above is the one to report
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return os.Rename(tmp.Name(), file)
}

// LoadedImage is an image ImageLoad registered: its names, or none for
// an untagged one.
type LoadedImage struct {
	ID    string
	Names []string
}

// ImageLoad loads images from a docker-archive or OCI archive on r, or
// from an OCI layout directory when dir is set.
func (e *Engine) ImageLoad(ctx context.Context, r io.Reader, dir string) ([]LoadedImage, error) {
	loaded, err := e.images.Load(ctx, r, dir, reporter(nil))
	out := make([]LoadedImage, 0, len(loaded))
	for _, l := range loaded {
		out = append(out, LoadedImage{ID: l.ID.String(), Names: l.Names})
		e.imageEvent(mobyevents.ActionLoad, l.ID.String(), strings.Join(l.Names, ","))
	}
	return out, classify(err)
}

// ImportOptions are import's.
type ImportOptions struct {
	Ref      string   // name for the image; "" leaves it untagged
	Changes  []string // Dockerfile instructions (--change)
	Message  string   // the history's comment
	Platform string   // os/arch[/variant]
}

// ImageImport makes an image from a root filesystem tar and returns its
// ID.
func (e *Engine) ImageImport(ctx context.Context, r io.Reader, o ImportOptions) (string, error) {
	p, err := parsePlatform(o.Platform)
	if err != nil {
		return "", err
	}
	img, err := e.images.Import(ctx, r, image.ImportOptions{Ref: o.Ref, Changes: o.Changes, Message: o.Message, Platform: p})
	if err != nil {
		return "", classify(err)
	}
	e.imageEvent(mobyevents.ActionImport, img.ID.String(), o.Ref)
	return img.ID.String(), nil
}

// ImageScratch registers the image of no layers and an empty config,
// the base of FROM scratch, and returns its ID, which is always the same.
func (e *Engine) ImageScratch(ctx context.Context) (string, error) {
	img, err := e.images.Scratch(ctx)
	if err != nil {
		return "", classify(err)
	}
	return img.ID.String(), nil
}

// ImageMount mounts an image's root filesystem read-only and returns
// where.
func (e *Engine) ImageMount(ref string) (string, error) {
	img, err := e.images.Get(ref)
	if err != nil {
		return "", classify(err)
	}
	return e.images.Mount(img)
}

// ImageUnmount undoes ImageMount.
func (e *Engine) ImageUnmount(ref string) error {
	img, err := e.images.Get(ref)
	if err != nil {
		return classify(err)
	}
	return e.images.Unmount(img)
}

// NormalizeReference writes a reference as Docker does
// (docker.io/library/busybox:latest).
func NormalizeReference(ref string) (string, error) {
	r, err := reference.Parse(ref)
	if err != nil {
		return "", invalid(err)
	}
	return r.String(), nil
}

// BuildCacheDir is where the builder keeps its cache under the storage
// root: one file per step key, naming the image the step made.
func (e *Engine) BuildCacheDir() string { return filepath.Join(e.paths.Root, "build-cache") }

// BuildScratchDir is where a build stages its files: on the storage's
// file system, so that staging costs what the layer will, and not on a
// /tmp that may be another (slower, or smaller) one.
func (e *Engine) BuildScratchDir() string { return filepath.Join(e.paths.Root, "build-scratch") }

// buildCacheImages are the images the build cache names: a step's
// intermediate images, which images lists only with All while untagged.
func (e *Engine) buildCacheImages() map[string]bool {
	ents, err := os.ReadDir(e.BuildCacheDir())
	if err != nil {
		return nil // no cache yet
	}
	out := map[string]bool{}
	for _, ent := range ents {
		if b, err := os.ReadFile(filepath.Join(e.BuildCacheDir(), ent.Name())); err == nil {
			out[strings.TrimSpace(string(b))] = true
		}
	}
	return out
}

// DistributionInspect asks ref's registry for its manifest's
// descriptor and platforms, without pulling.
func (e *Engine) DistributionInspect(ctx context.Context, ref string, o RegistryOptions) (mobyregistry.DistributionInspect, error) {
	d, err := image.InspectRemote(ctx, ref, o.image())
	if err != nil {
		return mobyregistry.DistributionInspect{}, classify(err)
	}
	out := mobyregistry.DistributionInspect{Descriptor: ocispec.Descriptor{MediaType: d.MediaType,
		Digest: digest.Digest(d.Digest.String()), Size: d.Size}, Platforms: []ocispec.Platform{}}
	for _, p := range d.Platforms {
		out.Platforms = append(out.Platforms, ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion})
	}
	return out, nil
}

// ImageSearch finds repositories whose names hold the term. The term
// names the registry to search first (127.0.0.1:5000/app), whose
// catalog answers; without one there is none: Docker Hub's search
// index is not reachable from here, and not a registry's API.
func (e *Engine) ImageSearch(ctx context.Context, term string, limit int, o RegistryOptions) ([]mobyregistry.SearchResult, error) {
	registry, rest, ok := strings.Cut(term, "/")
	if !ok || !strings.ContainsAny(registry, ".:") && registry != "localhost" {
		return nil, invalid(fmt.Errorf("search %q: name the registry to search (REGISTRY/TERM); berth searches a registry's catalog, and Docker Hub's search index is not one", term))
	}
	names, err := image.Search(ctx, registry, rest, limit, o.image())
	if err != nil {
		return nil, classify(err)
	}
	out := []mobyregistry.SearchResult{}
	for _, n := range names {
		out = append(out, mobyregistry.SearchResult{Name: registry + "/" + n})
	}
	return out, nil
}
