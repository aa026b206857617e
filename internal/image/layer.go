package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-project/berth/internal/compression"
	"github.com/berth-project/berth/internal/progress"
	"github.com/berth-project/berth/internal/snapshot"
)

// layerJob is one layer to make present: its blob in the content store
// and its snapshot.
type layerJob struct {
	Desc    v1.Descriptor // the blob as the manifest lists it
	DiffID  v1.Hash       // digest of the uncompressed tar, from the config
	ChainID v1.Hash
	// Fetch opens the blob at its source; nil when it is already stored.
	Fetch func() (io.ReadCloser, error)
}

// ensureLayer stores a layer's blob and unpacks its snapshot, in one
// pass over the bytes as they arrive: the stream is hashed into the
// content store and, at the same time, decompressed, hashed again and
// unpacked. The snapshot is published only after both digests matched,
// and the blob after that. Two pulls of one layer serialise on its lock:
// the second finds it done.
func (s *Service) ensureLayer(ctx context.Context, j layerJob, item progress.Item) (err error) {
	defer func() { item.Done("Pull complete", err) }()
	unlock, err := s.Content.Lock(j.ChainID.Hex)
	if err != nil {
		return err
	}
	defer unlock()
	_, haveBlob := s.Content.Size(j.Desc.Digest)
	_, haveSnap := s.Snapshots.Get(j.ChainID)
	if haveBlob && haveSnap {
		item.Status("Already exists")
		return nil
	}
	var src io.ReadCloser
	var w interface {
		io.Writer
		Digest() v1.Hash
		Commit() (v1.Hash, error)
		Close() error
	}
	if haveBlob {
		if src, err = s.Content.Open(j.Desc.Digest); err != nil {
			return err
		}
	} else {
		if j.Fetch == nil {
			return fmt.Errorf("layer %s: blob is missing", j.Desc.Digest)
		}
		item.Status("Downloading")
		if src, err = j.Fetch(); err != nil {
			return fmt.Errorf("fetch layer %s: %w", j.Desc.Digest, err)
		}
		cw, err := s.Content.Writer(j.Desc.Digest, j.Desc.Size)
		if err != nil {
			_ = src.Close() // a source not used: the error above is returned
			return err
		}
		w = cw
		defer w.Close() // discards the blob unless committed
	}
	defer src.Close() // read only
	var in io.Reader = &ctxReader{ctx: ctx, r: src, item: item}
	if w != nil {
		in = io.TeeReader(in, w)
	}
	// drain reads what the unpacker leaves (tar padding, compression
	// trailer) so the whole blob is hashed, then checks the blob digest.
	drain := func() error {
		if _, err := io.Copy(io.Discard, in); err != nil {
			return fmt.Errorf("layer %s: %w", j.Desc.Digest, err)
		}
		if w != nil && w.Digest() != j.Desc.Digest {
			return fmt.Errorf("layer %s: content has digest %s: refused", j.Desc.Digest, w.Digest())
		}
		return nil
	}
	if haveSnap {
		if err := drain(); err != nil {
			return err
		}
	} else {
		_, err := s.Snapshots.Create(j.ChainID, j.DiffID, func(dir string) (int64, int64, error) {
			size, tarSize, err := unpackStream(in, dir, j.DiffID)
			if err != nil {
				return 0, 0, fmt.Errorf("layer %s: %w", j.Desc.Digest, err)
			}
			return size, tarSize, drain()
		})
		if err != nil {
			return err
		}
	}
	if w != nil {
		if _, err := w.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// unpackStream decompresses a layer blob (gzip, zstd or plain tar),
// unpacks it into dir and checks its diff ID. It returns the file bytes
// unpacked and the size of the uncompressed tar.
func unpackStream(r io.Reader, dir string, diffID v1.Hash) (size, tarSize int64, err error) {
	dr, err := decompress(r)
	if err != nil {
		return 0, 0, err
	}
	defer dr.Close() // a decompressor, read to its end
	h := sha256.New()
	cnt := &counter{}
	tr := io.TeeReader(dr, io.MultiWriter(h, cnt))
	opts := snapshot.Options{NoChown: os.Geteuid() != 0}
	if size, err = snapshot.Unpack(tr, dir, opts); err != nil {
		return 0, 0, err
	}
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return 0, 0, fmt.Errorf("read layer: %w", err)
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if diffID.Hex != "" && got != diffID {
		return 0, 0, fmt.Errorf("uncompressed content has digest %s, the image config says %s: refused", got, diffID)
	}
	return size, cnt.n, nil
}

// decompress opens a layer stream by its content: registries label the
// compression by media type, but archives and imports often do not. A
// layer is gzip, zstd or plain tar, as the image spec allows.
func decompress(r io.Reader) (io.ReadCloser, error) {
	dr, f, err := compression.Reader(r)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	if f != compression.None && f != compression.Gzip && f != compression.Zstd {
		_ = dr.Close() // refused before any read
		return nil, fmt.Errorf("layer compressed with %s: want gzip, zstd or none", f)
	}
	return dr, nil
}

// layerMediaType labels a stored layer by its real compression.
func layerMediaType(magic []byte) string {
	switch compression.Detect(magic) {
	case compression.Gzip:
		return "application/vnd.oci.image.layer.v1.tar+gzip"
	case compression.Zstd:
		return "application/vnd.oci.image.layer.v1.tar+zstd"
	default:
		return "application/vnd.oci.image.layer.v1.tar"
	}
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// ctxReader stops a transfer when its context ends and reports bytes.
type ctxReader struct {
	ctx  context.Context
	r    io.Reader
	item progress.Item
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.item.Add(n)
	return n, err
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
