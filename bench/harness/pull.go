package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// pullImage is the pull scenario's image: layers of files half random
// (incompressible) and half text, about 200 MB unpacked, served by an
// in-process registry on loopback.
type pullImage struct {
	ref                      string
	compressed, uncompressed int64
	srv                      *httptest.Server
}

const (
	pullLayers    = 4
	pullLayerSize = 50 << 20
	pullFileSize  = 1 << 20
)

func (e *env) startPullRegistry() (*pullImage, error) {
	if e.pull != nil {
		return e.pull, nil
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	p := &pullImage{srv: srv, ref: strings.TrimPrefix(srv.URL, "http://") + "/bench/pull:1"}
	rng := rand.New(rand.NewPCG(1, 2))
	text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog 0123456789\n"), pullFileSize/55+1)[:pullFileSize]
	var layers []v1.Layer
	for l := 0; l < pullLayers; l++ {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for f := 0; f < pullLayerSize/pullFileSize; f++ {
			body := text
			if f%2 == 0 {
				body = make([]byte, pullFileSize)
				for i := 0; i < len(body); i += 8 {
					v := rng.Uint64()
					for k := 0; k < 8; k++ {
						body[i+k] = byte(v >> (8 * k))
					}
				}
			}
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("layer%d/file%03d", l, f), Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
			tw.Write(body)
		}
		tw.Close()
		data := b.Bytes()
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			return nil, err
		}
		size, _ := layer.Size()
		p.compressed += size
		p.uncompressed += int64(len(data))
		layers = append(layers, layer)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	ref, err := name.ParseReference(p.ref)
	if err != nil {
		return nil, err
	}
	if err := remote.Write(ref, img); err != nil {
		return nil, fmt.Errorf("push the pull image: %w", err)
	}
	e.pull = p
	e.notes = append(e.notes, fmt.Sprintf("pull: %d layers, %.0f MB compressed, %.0f MB unpacked, from an in-process registry on loopback; floor = skopeo copy to an OCI layout (download and verify, no unpack)",
		pullLayers, float64(p.compressed)/1e6, float64(p.uncompressed)/1e6))
	return p, nil
}

// pullOp pulls the image into a fresh store each iteration; removing it
// is untimed.
func (e *env) pullOp(peer string) (*op, string) {
	if why := e.skip[peer]; why != "" && peer != "floor" {
		return nil, why
	}
	var argv func(dir string) []string
	var clean func(dir string)
	switch peer {
	case "berth":
		engine := filepath.Join(filepath.Dir(*berthBin), "berth")
		argv = func(dir string) []string { return []string{engine, "--root", dir, "pull", "-q", e.pull.ref} }
	case "podman":
		prefix := func(dir string) []string {
			return []string{"podman", "--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"), "--tmpdir", filepath.Join(dir, "tmp"), "--storage-driver", "overlay"}
		}
		argv = func(dir string) []string { return append(prefix(dir), "pull", "-q", "--tls-verify=false", e.pull.ref) }
		clean = func(dir string) {
			exec.Command(prefix(dir)[0], append(prefix(dir)[1:], "system", "reset", "-f")...).Run()
		}
	case "docker":
		argv = func(string) []string { return append(append([]string(nil), e.docker...), "pull", "-q", e.pull.ref) }
		clean = func(string) { e.quiet(append(append([]string(nil), e.docker...), "rmi", "-f", e.pull.ref)...) }
	case "floor":
		if _, err := exec.LookPath("skopeo"); err != nil {
			return nil, "skopeo is not installed"
		}
		argv = func(dir string) []string {
			return []string{"skopeo", "copy", "-q", "--src-tls-verify=false", "docker://" + e.pull.ref, "oci:" + filepath.Join(dir, "layout") + ":1"}
		}
	default:
		return nil, notRuntime
	}
	return &op{
		setup: func() error { _, err := e.startPullRegistry(); return err },
		once: func(int) (time.Duration, error) {
			// Short: Podman refuses a runroot longer than 50 characters.
			dir, err := os.MkdirTemp("/run", "bp-")
			if err != nil {
				return 0, err
			}
			defer os.RemoveAll(dir)
			if clean != nil {
				defer clean(dir)
			}
			return e.timed("", argv(dir)...)
		},
	}, ""
}

// pullThroughput notes each peer's pull speed in unpacked MB/s.
func (e *env) pullThroughput(res scenarioResult) {
	if e.pull == nil {
		return
	}
	var parts []string
	for _, s := range res.Peers {
		if s.Skipped == "" && s.Median > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f MB/s", s.Peer, float64(e.pull.uncompressed)/1e6/(s.Median/1000)))
		}
	}
	e.notes = append(e.notes, "pull throughput (unpacked bytes / median time): "+strings.Join(parts, ", "))
}
