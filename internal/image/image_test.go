package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func testLayer(t testing.TB, files map[string]string) v1.Layer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for n, body := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, Uid: os.Getuid(), Gid: os.Getgid()})
		tw.Write([]byte(body))
	}
	tw.Close()
	data := b.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func testImage(t testing.TB, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = HostPlatform().Architecture, "linux"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Pull, tag, save, load and remove against an in-process registry; the
// race detector watches the parallel layer downloads.
func TestPullSaveLoadRemove(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img := testImage(t, testLayer(t, map[string]string{"a": "1"}), testLayer(t, map[string]string{"b": "2"}), testLayer(t, map[string]string{"c": "3"}))
	ref, _ := name.ParseReference(host + "/x:1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Pull(context.Background(), host+"/x:1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || len(got.ChainIDs) != 3 {
		t.Fatalf("pulled %s with %d layers", got.ID, len(got.ChainIDs))
	}
	if err := s.Tag(host+"/x:1", "other:2"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{DockerArchive, OCIArchive} {
		var archive bytes.Buffer
		if err := s.Save(&archive, []string{"other:2"}, f); err != nil {
			t.Fatal(err)
		}
		s2, _ := Open(t.TempDir())
		loaded, err := s2.Load(context.Background(), &archive, "", nil)
		if err != nil {
			t.Fatalf("load %s: %v", f, err)
		}
		if len(loaded) != 1 || loaded[0].ID != id || loaded[0].Names[0] != "other:2" {
			t.Fatalf("load %s: %+v", f, loaded)
		}
	}
	if _, err := s.Remove(id.Hex[:8], false); err == nil {
		t.Fatal("removed an image with two names by ID without force")
	}
	res, err := s.Remove(id.Hex[:8], true)
	if err != nil || len(res.Deleted) != 1 || len(res.Untagged) != 3 {
		t.Fatalf("forced remove: %+v %v", res, err)
	}
	if blobs, _ := s.Content.List(); len(blobs) != 0 {
		t.Fatalf("%d blobs left", len(blobs))
	}
	if snaps, _ := s.Snapshots.List(); len(snaps) != 0 {
		t.Fatalf("%d snapshots left", len(snaps))
	}
}

func TestGetByIDPrefixAndAmbiguity(t *testing.T) {
	h := func(hex string) v1.Hash {
		return v1.Hash{Algorithm: "sha256", Hex: hex + strings.Repeat("0", 64-len(hex))}
	}
	recs := []Record{{ID: h("abcd1"), Names: []string{"docker.io/library/a:latest"}}, {ID: h("abcd2")}}
	if _, err := find(recs, "abcd"); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Fatalf("ambiguous prefix: %v", err)
	}
	if r, err := find(recs, "abcd2"); err != nil || r.ID != recs[1].ID {
		t.Fatalf("prefix: %v %v", r, err)
	}
	if r, err := find(recs, "a"); err != nil || r.ID != recs[0].ID {
		t.Fatalf("by name: %v %v", r, err)
	}
	if _, err := find(recs, "b"); err == nil {
		t.Fatal("unknown name found")
	}
}

// FuzzLoadManifest feeds arbitrary manifest.json and index.json
// documents to load: it must fail cleanly, never panic, and register
// nothing it cannot fully back with blobs.
func FuzzLoadManifest(f *testing.F) {
	f.Add([]byte(`[{"Config":"c.json","RepoTags":["a:1"],"Layers":["l.tar"]}]`), true)
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2}]}`), false)
	f.Add([]byte(`[{"Config":"../../etc/passwd","Layers":["l.tar","l.tar"]}]`), true)
	f.Fuzz(func(t *testing.T, doc []byte, docker bool) {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		file := func(n string, body []byte) {
			tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
			tw.Write(body)
		}
		file("c.json", []byte(`{"rootfs":{"type":"layers","diff_ids":[]}}`))
		file("l.tar", make([]byte, 1024))
		if docker {
			file("manifest.json", doc)
		} else {
			file("index.json", doc)
		}
		tw.Close()
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := s.Load(context.Background(), &b, "", nil)
		imgs, lerr := s.List()
		if lerr != nil {
			t.Fatalf("index unreadable after load: %v", lerr)
		}
		if err != nil && len(imgs) != len(loaded) {
			t.Fatalf("failed load registered %d images, reported %d", len(imgs), len(loaded))
		}
	})
}
