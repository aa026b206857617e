package image

import (
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Inspect is `image inspect` output, in Docker's shape.
type Inspect struct {
	ID            string `json:"Id"`
	RepoTags      []string
	RepoDigests   []string
	Parent        string
	Comment       string
	Created       string
	DockerVersion string
	Author        string
	Config        v1.Config
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	Size          int64
	GraphDriver   GraphDriver
	RootFS        RootFS
	Metadata      Metadata
	// Manifest is the digest of the stored manifest (berth's addition).
	Manifest string
}

// GraphDriver names the storage driver and the image's layer dirs.
type GraphDriver struct {
	Name string
	Data map[string]string
}

// RootFS lists the image's diff IDs, base first.
type RootFS struct {
	Type   string
	Layers []string
}

// Metadata holds what Docker keeps beside the image.
type Metadata struct {
	LastTagTime string
}

// Inspect describes an image as Docker's `image inspect` does.
func (s *Service) Inspect(img *Image) Inspect {
	out := Inspect{
		ID:            img.ID.String(),
		RepoTags:      familiar(img.Names),
		RepoDigests:   familiar(img.RepoDigests),
		Parent:        img.Record.Parent,
		Comment:       comment(img.Config),
		Created:       img.Config.Created.UTC().Format(time.RFC3339Nano),
		DockerVersion: img.Config.DockerVersion,
		Author:        img.Config.Author,
		Config:        img.Config.Config,
		Architecture:  img.Config.Architecture,
		Variant:       img.Config.Variant,
		Os:            img.Config.OS,
		Size:          s.Size(img),
		GraphDriver:   GraphDriver{Name: "overlay", Data: map[string]string{}},
		RootFS:        RootFS{Type: "layers"},
		Metadata:      Metadata{LastTagTime: img.Added.Format(time.RFC3339Nano)},
		Manifest:      img.Record.Manifest.String(),
	}
	for _, d := range img.Config.RootFS.DiffIDs {
		out.RootFS.Layers = append(out.RootFS.Layers, d.String())
	}
	if n := len(img.ChainIDs); n > 0 {
		var lower string
		for i := n - 2; i >= 0; i-- {
			if lower != "" {
				lower += ":"
			}
			lower += s.Snapshots.Dir(img.ChainIDs[i])
		}
		if lower != "" {
			out.GraphDriver.Data["LowerDir"] = lower
		}
		out.GraphDriver.Data["UpperDir"] = s.Snapshots.Dir(img.ChainIDs[n-1])
	}
	return out
}

func comment(c *v1.ConfigFile) string {
	if n := len(c.History); n > 0 {
		return c.History[n-1].Comment
	}
	return ""
}

// HistoryEntry is one row of `history`, newest first.
type HistoryEntry struct {
	ID        string // the image ID on the top row, "<missing>" below
	Created   time.Time
	CreatedBy string
	Size      int64
	Comment   string
}

// History lists the steps that built the image, newest first, with the
// size each added (the unpacked size of its layer).
func (s *Service) History(img *Image) []HistoryEntry {
	var out []HistoryEntry
	layer := 0
	hist := img.Config.History
	if len(hist) == 0 { // an image without history: one row per layer
		for range img.ChainIDs {
			hist = append(hist, v1.History{})
		}
	}
	for _, h := range hist {
		e := HistoryEntry{ID: "<missing>", Created: h.Created.Time, CreatedBy: h.CreatedBy, Comment: h.Comment}
		if !h.EmptyLayer && layer < len(img.ChainIDs) {
			if info, ok := s.Snapshots.Get(img.ChainIDs[layer]); ok {
				e.Size = info.Size
			}
			layer++
		}
		out = append(out, e)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) > 0 {
		out[0].ID = img.ID.String()
	}
	return out
}

// DiskUsage is the images row of `system df`.
type DiskUsage struct {
	Total, Active int
	Size          int64 // bytes of unpacked layers and blobs, shared ones once
	Reclaimable   int64 // what removing every unused image would free
}

// DiskUsage measures the images' disk use. Layers shared by images are
// counted once.
func (s *Service) DiskUsage() (DiskUsage, error) {
	imgs, err := s.List()
	if err != nil {
		return DiskUsage{}, err
	}
	var du DiskUsage
	du.Total = len(imgs)
	used := map[v1.Hash]bool{}
	for _, img := range imgs {
		users, err := s.inUse(img.ID)
		if err != nil {
			return DiskUsage{}, err
		}
		if len(users) > 0 {
			du.Active++
			for _, c := range img.ChainIDs {
				used[c] = true
			}
			for _, l := range img.Manifest.Layers {
				used[l.Digest] = true
			}
		}
	}
	infos, err := s.Snapshots.List()
	if err != nil {
		return du, err
	}
	for _, info := range infos {
		du.Size += info.Size
		if !used[info.ChainID] {
			du.Reclaimable += info.Size
		}
	}
	// Half-unpacked layers of killed pulls: prune frees them.
	n := s.Snapshots.AbandonedSize()
	du.Size += n
	du.Reclaimable += n
	blobs, err := s.Content.List()
	if err != nil {
		return du, err
	}
	for _, d := range blobs {
		n, _ := s.Content.Size(d)
		du.Size += n
		if !used[d] {
			du.Reclaimable += n
		}
	}
	return du, nil
}
