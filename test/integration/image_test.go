package integration

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// ---- registry and image helpers ----

// startRegistry serves go-containerregistry's in-memory registry on
// loopback, optionally behind wrap, and returns its host:port.
func startRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// basicAuth wraps a registry so that it wants user and password.
func basicAuth(user, password string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// storage is one test's berth storage root.
func storage(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(suiteDir, "storage-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// engine runs the berth engine binary with a storage root.
func engine(t *testing.T, root string, args ...string) result {
	t.Helper()
	return engineIn(t, root, nil, args...)
}

func engineIn(t *testing.T, root string, stdin io.Reader, args ...string) result {
	t.Helper()
	return runIn(t, root, stdin, exec.Command(*berthBin, append([]string{"--root", root, "--runroot", filepath.Join(root, "run")}, args...)...))
}

// runIn runs cmd with root's Docker config and stdin, and collects what
// it printed and its exit code.
func runIn(t *testing.T, root string, stdin io.Reader, cmd *exec.Cmd) result {
	t.Helper()
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(root, "docker-config"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errb, stdin
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", cmd.Path, err)
	}
	return r
}

// engineInPty is engineIn with berth's stdin and stdout a terminal
// (script(1)'s pty), as a user at a terminal has them; stdin feeds it.
func engineInPty(t *testing.T, root string, stdin io.Reader, args ...string) result {
	t.Helper()
	quoted := []string{shellQuote(*berthBin), "--root", shellQuote(root), "--runroot", shellQuote(filepath.Join(root, "run"))}
	for _, a := range args {
		quoted = append(quoted, shellQuote(a))
	}
	return runIn(t, root, stdin, exec.Command("script", "-qefc", strings.Join(quoted, " "), "/dev/null"))
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func mustEngine(t *testing.T, root string, args ...string) string {
	t.Helper()
	r := engine(t, root, args...)
	if r.code != 0 {
		t.Fatalf("berth %v: exit %d: %s%s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
	uid              int
}

// layerOf makes a gzip layer of tar entries.
func layerOf(t *testing.T, entries ...tarEntry) v1.Layer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Size: int64(len(e.body)), Uid: e.uid, Gid: e.uid}
		if h.Mode == 0 {
			h.Mode = 0o644
			if e.typ == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	data := b.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// busyboxLayer is the busybox fixture as one gzip layer.
func busyboxLayer(t *testing.T) v1.Layer {
	t.Helper()
	p := filepath.Join(suiteDir, "busybox-layer.tar")
	if _, err := os.Stat(p); err != nil {
		if out, err := exec.Command("tar", "-C", *busybox, "--numeric-owner", "-cf", p, ".").CombinedOutput(); err != nil {
			t.Fatalf("tar busybox: %v: %s", err, out)
		}
	}
	l, err := tarball.LayerFromFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// imageOf stacks layers into an image for a platform, with a config.
func imageOf(t *testing.T, arch string, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Config = arch, "linux", cfg
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

func pushImage(t *testing.T, ref string, img v1.Image) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	id, _ := img.ConfigName()
	return id
}

func hostArch() string { return runtime.GOARCH }

// mountImage mounts an image read-only and unmounts it at cleanup.
func mountImage(t *testing.T, root, ref string) string {
	t.Helper()
	dir := strings.TrimSpace(mustEngine(t, root, "image", "mount", ref))
	t.Cleanup(func() {
		if r := engine(t, root, "image", "unmount", ref); r.code != 0 {
			t.Errorf("image unmount: %s", r.stderr)
		}
	})
	return dir
}

// writableOver stacks a writable overlay on a read-only image mount, as
// a container's rootfs is: the image has no /proc, /dev or /sys to mount
// on until the container's upper layer makes them.
func writableOver(t *testing.T, lower string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"upper", "work", "merged"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	merged := filepath.Join(dir, "merged")
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, dir, dir)
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(merged, unix.MNT_DETACH) })
	return merged
}

// storeContents counts what the stores hold, and any temp files.
func storeContents(t *testing.T, root string) (blobs, snaps, temps int) {
	t.Helper()
	b, _ := os.ReadDir(filepath.Join(root, "image", "blobs", "sha256"))
	s, _ := os.ReadDir(filepath.Join(root, "snapshots"))
	i, _ := os.ReadDir(filepath.Join(root, "image", "ingest"))
	for _, e := range s {
		if strings.HasPrefix(e.Name(), ".") {
			temps++
		} else {
			snaps++
		}
	}
	return len(b), snaps, temps + len(i)
}

// ---- tests ----

// A busybox image pushed to a loopback registry is pulled, listed,
// inspected, stacked with overlayfs, and runs as a container.
func TestImagePullInspectMountAndRun(t *testing.T) {
	reg := startRegistry(t, nil)
	img := imageOf(t, hostArch(), v1.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/bin"}},
		busyboxLayer(t), layerOf(t, tarEntry{name: "etc/motd", typ: tar.TypeReg, body: "from the image\n"}))
	id := pushImage(t, reg+"/test/busybox:1", img)
	root := storage(t)
	r := engine(t, root, "pull", reg+"/test/busybox:1")
	if r.code != 0 || r.stdout != reg+"/test/busybox:1\n" || !strings.Contains(r.stderr, "Status: Downloaded image for "+reg+"/test/busybox:1") {
		t.Fatalf("pull printed %q %q, want the reference on stdout, as Docker's", r.stdout, r.stderr)
	}
	// push -a pushes every tag of the repository here; pull -a pulls
	// every tag the registry has.
	mustEngine(t, root, "tag", reg+"/test/busybox:1", reg+"/test/multi:a")
	mustEngine(t, root, "tag", reg+"/test/busybox:1", reg+"/test/multi:b")
	if out := mustEngine(t, root, "push", "-a", reg+"/test/multi"); strings.Count(out, ": digest: ") != 2 {
		t.Fatalf("push -a: %q", out)
	}
	if out := mustEngine(t, storage(t), "pull", "-a", "-q", reg+"/test/multi"); out != reg+"/test/multi:a\n"+reg+"/test/multi:b\n" {
		t.Fatalf("pull -a: %q", out)
	}
	if r := engine(t, root, "pull", "-a", reg+"/test/multi:a"); r.code == 0 || !strings.Contains(r.stderr, "all-tags") {
		t.Fatalf("pull -a of a tag: %d %q", r.code, r.stderr)
	}
	// run of an image not here says so, and pulls it.
	if r := engine(t, storage(t), "run", "--rm", "--network", "none", reg+"/test/busybox:1", "true"); r.code != 0 || !strings.Contains(r.stderr, "Unable to find image '"+reg+"/test/busybox:1' locally") {
		t.Fatalf("run of an image not here: %d %q", r.code, r.stderr)
	}
	list := mustEngine(t, root, "images")
	if !strings.Contains(list, reg+"/test/busybox") || !strings.Contains(list, id.Hex[:12]) || !strings.HasPrefix(list, "REPOSITORY") {
		t.Fatalf("images:\n%s", list)
	}
	if got := strings.TrimSpace(mustEngine(t, root, "image", "inspect", "--format", "{{.Id}} {{json .Config.Cmd}} {{len .RootFS.Layers}}", reg+"/test/busybox:1")); got != id.String()+` ["sh"] 2` {
		t.Fatalf("inspect = %q", got)
	}
	if got := strings.TrimSpace(mustEngine(t, root, "images", "-q")); got != id.Hex[:12] {
		t.Fatalf("images -q = %q", got)
	}
	// Pulling again finds every layer present.
	if r := engine(t, root, "pull", reg+"/test/busybox:1"); r.code != 0 {
		t.Fatalf("second pull: %s", r.stderr)
	}
	dir := mountImage(t, root, reg+"/test/busybox:1")
	if b, err := os.ReadFile(filepath.Join(dir, "etc/motd")); err != nil || string(b) != "from the image\n" {
		t.Fatalf("upper layer file: %q %v", b, err)
	}
	b := newBundle(t, "sh", "-c", "cat /etc/motd; busybox | head -1 | cut -c1-7")
	b.spec.Root.Path = dir
	r = b.run()
	if r.code != 0 || r.stdout != "from the image\nBusyBox\n" {
		t.Fatalf("container from the image: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// A FROM-scratch image holding one static Go binary runs.
// httpServerBinary is testdata/httpserver built static, once a suite.
func httpServerBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(suiteDir, "httpserver")
	if _, err := os.Stat(bin); err != nil {
		cmd := exec.Command("go", "build", "-o", bin, "./testdata/httpserver")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build httpserver: %v: %s", err, out)
		}
	}
	return bin
}

func TestScratchImageWithStaticGoServer(t *testing.T) {
	body, err := os.ReadFile(httpServerBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	reg := startRegistry(t, nil)
	pushImage(t, reg+"/scratch/http:latest", imageOf(t, hostArch(), v1.Config{Entrypoint: []string{"/httpserver"}, ExposedPorts: map[string]struct{}{"80/tcp": {}}},
		layerOf(t, tarEntry{name: "httpserver", typ: tar.TypeReg, body: string(body), mode: 0o755})))
	root := storage(t)
	mustEngine(t, root, "pull", "-q", reg+"/scratch/http")
	dir := mountImage(t, root, reg+"/scratch/http")
	b := newBundle(t, "/httpserver", "-once")
	b.spec.Root.Path = writableOver(t, dir)
	b.spec.Root.Readonly = false
	if r := b.run(); r.code != 0 || r.stdout != "hello from scratch\n" {
		t.Fatalf("scratch container: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if got := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{json .Config.ExposedPorts}}", reg+"/scratch/http")); got != `{"80/tcp":{}}` {
		t.Fatalf("exposed ports %s", got)
	}
}

// A multi-arch index resolves to this host's platform, or to --platform.
func TestMultiArchIndexResolvesPlatform(t *testing.T) {
	reg := startRegistry(t, nil)
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"arm64", hostArch(), "s390x"} {
		img := imageOf(t, arch, v1.Config{}, layerOf(t, tarEntry{name: "arch", typ: tar.TypeReg, body: arch}))
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex)
	ref, _ := name.ParseReference(reg + "/multi:1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	root := storage(t)
	mustEngine(t, root, "pull", reg+"/multi:1")
	hostID := strings.TrimSpace(mustEngine(t, root, "images", "-q", "--no-trunc"))
	if b, _ := os.ReadFile(filepath.Join(mountImage(t, root, hostID), "arch")); string(b) != hostArch() {
		t.Fatalf("host pull got the %q image", b)
	}
	if got := mustEngine(t, root, "images", "--digests", "--format", "{{.Digest}}"); strings.TrimSpace(got) != idxDigest.String() {
		t.Fatalf("repo digest %q, want the index's %s", got, idxDigest)
	}
	mustEngine(t, root, "pull", "--platform", "linux/s390x", reg+"/multi:1")
	if got := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.Architecture}}", reg+"/multi:1")); got != "s390x" {
		t.Fatalf("--platform pull: %s", got)
	}
	if r := engine(t, root, "pull", "--platform", "linux/mips", reg+"/multi:1"); r.code == 0 || !strings.Contains(r.stderr, "no image for platform linux/mips") {
		t.Fatalf("missing platform: %d %s", r.code, r.stderr)
	}
}

// Whiteouts and opaque directories hide lower layers' files in the
// stacked root filesystem.
func TestWhiteoutsAndOpaqueDirsInTheStack(t *testing.T) {
	reg := startRegistry(t, nil)
	base := layerOf(t,
		tarEntry{name: "a/", typ: tar.TypeDir}, tarEntry{name: "a/keep", typ: tar.TypeReg, body: "k"},
		tarEntry{name: "a/gone", typ: tar.TypeReg, body: "g"},
		tarEntry{name: "d/", typ: tar.TypeDir}, tarEntry{name: "d/old", typ: tar.TypeReg, body: "o"})
	top := layerOf(t,
		tarEntry{name: "a/.wh.gone", typ: tar.TypeReg},
		tarEntry{name: "d/", typ: tar.TypeDir}, tarEntry{name: "d/.wh..wh..opq", typ: tar.TypeReg},
		tarEntry{name: "d/new", typ: tar.TypeReg, body: "n"})
	pushImage(t, reg+"/wh:1", imageOf(t, hostArch(), v1.Config{}, base, top))
	root := storage(t)
	mustEngine(t, root, "pull", reg+"/wh:1")
	dir := mountImage(t, root, reg+"/wh:1")
	for p, want := range map[string]bool{"a/keep": true, "a/gone": false, "d/old": false, "d/new": true} {
		if _, err := os.Stat(filepath.Join(dir, p)); (err == nil) != want {
			t.Errorf("%s present=%v, want %v", p, err == nil, want)
		}
	}
}

// Tag, push under the new name, remove, pull back: the same image.
func TestTagPushRmiAndPullBack(t *testing.T) {
	reg := startRegistry(t, nil)
	id := pushImage(t, reg+"/a:1", imageOf(t, hostArch(), v1.Config{}, layerOf(t, tarEntry{name: "f", typ: tar.TypeReg, body: "x"})))
	root := storage(t)
	mustEngine(t, root, "pull", reg+"/a:1")
	mustEngine(t, root, "tag", reg+"/a:1", reg+"/b:2")
	mustEngine(t, root, "push", reg+"/b:2")
	// By ID, an image with two names needs -f.
	if r := engine(t, root, "rmi", id.Hex[:12]); r.code == 0 || !strings.Contains(r.stderr, "referenced in multiple repositories") {
		t.Fatalf("rmi of a twice-named image by ID: %d %s", r.code, r.stderr)
	}
	if out := mustEngine(t, root, "rmi", reg+"/a:1"); !strings.Contains(out, "Untagged: "+reg+"/a:1") || strings.Contains(out, "Deleted") {
		t.Fatalf("rmi of one name: %s", out)
	}
	if out := mustEngine(t, root, "rmi", reg+"/b:2"); !strings.Contains(out, "Deleted: "+id.String()) {
		t.Fatalf("rmi of the last name: %s", out)
	}
	if blobs, snaps, temps := storeContents(t, root); blobs+snaps+temps != 0 {
		t.Fatalf("after rmi: %d blobs, %d snapshots, %d temp files left", blobs, snaps, temps)
	}
	if got := strings.TrimSpace(mustEngine(t, root, "pull", "-q", reg+"/b:2")); got != reg+"/b:2" {
		t.Fatalf("pull -q printed %q", got)
	}
	if got := strings.TrimSpace(mustEngine(t, root, "images", "-q", "--no-trunc")); got != id.String() {
		t.Fatalf("pulled back %q, want %s", got, id)
	}
	if r := engine(t, root, "rmi", "nosuch:image"); r.code != 1 || !strings.Contains(r.stderr, "no such image") {
		t.Fatalf("rmi of a missing image: %d %s", r.code, r.stderr)
	}
	if r := engine(t, root, "pull", "Bad:Ref"); r.code == 0 || !strings.Contains(r.stderr, "invalid reference format") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("bad reference: %d %q", r.code, r.stderr)
	}
	mustEngine(t, root, "tag", reg+"/b:2", "dangling:x")
	mustEngine(t, root, "rmi", reg+"/b:2")
	if out := mustEngine(t, root, "image", "prune", "-a", "-f"); !strings.Contains(out, "Deleted: "+id.String()) {
		t.Fatalf("prune -a: %s", out)
	}
}

// cutBlobs answers blob downloads with half the bytes, then drops the
// connection, as a registry that dies mid-layer.
func cutBlobs(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if len(body) < 10000 { // configs pass; layers are cut
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n\r\n", len(body))
		buf.Write(body[:len(body)/2])
		buf.Flush()
		conn.Close()
	})
}

// An interrupted pull registers nothing and leaves no blob, snapshot or
// temp file; the next pull works.
func TestInterruptedPullLeavesNothing(t *testing.T) {
	img := imageOf(t, hostArch(), v1.Config{}, busyboxLayer(t))
	var cut atomic.Bool
	cut.Store(true)
	reg := startRegistry(t, func(h http.Handler) http.Handler {
		c := cutBlobs(h)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if cut.Load() {
				c.ServeHTTP(w, r)
			} else {
				h.ServeHTTP(w, r)
			}
		})
	})
	cut.Store(false)
	pushImage(t, reg+"/cut:1", img)
	cut.Store(true)
	root := storage(t)
	r := engine(t, root, "pull", reg+"/cut:1")
	if r.code == 0 {
		t.Fatal("pull from a registry that dies mid-layer succeeded")
	}
	if strings.Count(strings.TrimSpace(r.stderr), "\n") > 2 || !strings.Contains(r.stderr, "Error:") {
		t.Fatalf("error output: %q", r.stderr)
	}
	if out := mustEngine(t, root, "images", "-q"); out != "" {
		t.Fatalf("interrupted pull registered %q", out)
	}
	if blobs, snaps, temps := storeContents(t, root); blobs+snaps+temps != 0 {
		t.Fatalf("interrupted pull left %d blobs, %d snapshots, %d temp files", blobs, snaps, temps)
	}
	cut.Store(false)
	mustEngine(t, root, "pull", reg+"/cut:1")
}

// stallBlobs sends half of each layer and then nothing until the test
// ends, so a pull stays mid-unpack.
func stallBlobs(t *testing.T, h http.Handler) http.Handler {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") || len(body) < 10000 {
			w.Write(body)
			return
		}
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		select {
		case <-done:
		case <-r.Context().Done():
		}
	})
}

// A pull killed mid-unpack leaves a half-unpacked layer, which the
// next command removes; after a prune nothing of the pull (work dir,
// ingest file, lock file) stays.
func TestKilledPullLeavesNothingAfterPrune(t *testing.T) {
	reg := startRegistry(t, func(h http.Handler) http.Handler { return stallBlobs(t, h) })
	pushImage(t, reg+"/stall:1", imageOf(t, hostArch(), v1.Config{}, busyboxLayer(t)))
	root := storage(t)
	mustEngine(t, root, "images") // the stores exist before the pull
	pull := exec.Command(*berthBin, "--root", root, "--runroot", filepath.Join(root, "run"), "pull", reg+"/stall:1")
	if err := pull.Start(); err != nil {
		t.Fatal(err)
	}
	var work string
	for i := 0; i < 400 && work == ""; i++ {
		ents, _ := os.ReadDir(filepath.Join(root, "snapshots"))
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				if fs, _ := os.ReadDir(filepath.Join(root, "snapshots", e.Name(), "fs")); len(fs) > 0 {
					work = filepath.Join(root, "snapshots", e.Name())
				}
			}
		}
		unix.Nanosleep(&unix.Timespec{Nsec: 50e6}, nil)
	}
	pull.Process.Kill()
	pull.Wait()
	if work == "" {
		t.Fatal("the stalled pull never began to unpack")
	}
	// Past the grace a work dir has between its creation and its lock.
	old := time.Now().Add(-time.Minute)
	os.Chtimes(work, old, old)
	// The next command, whatever it is, collects the layer.
	if df := mustEngine(t, root, "system", "df", "--format", "{{.Type}} {{.Size}}"); !strings.Contains(df, "Images 0B\n") {
		t.Fatalf("system df after the killed pull:\n%s", df)
	}
	if _, err := os.Stat(work); !os.IsNotExist(err) {
		t.Fatal("the half-unpacked layer outlived the next command")
	}
	mustEngine(t, root, "image", "prune", "-f")
	if blobs, snaps, temps := storeContents(t, root); blobs+snaps+temps != 0 {
		t.Fatalf("left %d blobs, %d snapshots, %d temp files", blobs, snaps, temps)
	}
	if locks, _ := os.ReadDir(filepath.Join(root, "image", "locks")); len(locks) != 0 {
		t.Fatalf("lock files left: %d", len(locks))
	}
}

// slowBlobs delays layer downloads so two pulls overlap.
func slowBlobs(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/") {
			unix.Nanosleep(&unix.Timespec{Nsec: 200e6}, nil)
		}
		h.ServeHTTP(w, r)
	})
}

// Two pulls of one image at once both succeed, and each layer is
// stored and unpacked once.
func TestConcurrentPullsStoreEachLayerOnce(t *testing.T) {
	var gets atomic.Int32
	reg := startRegistry(t, func(h http.Handler) http.Handler {
		s := slowBlobs(h)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
				gets.Add(1)
			}
			s.ServeHTTP(w, r)
		})
	})
	pushImage(t, reg+"/c:1", imageOf(t, hostArch(), v1.Config{}, busyboxLayer(t), layerOf(t, tarEntry{name: "x", typ: tar.TypeReg, body: "x"})))
	gets.Store(0)
	root := storage(t)
	var wg sync.WaitGroup
	res := make([]result, 2)
	for i := range res {
		wg.Add(1)
		go func() { defer wg.Done(); res[i] = engine(t, root, "pull", reg+"/c:1") }()
	}
	wg.Wait()
	for _, r := range res {
		if r.code != 0 {
			t.Fatalf("concurrent pull: %s", r.stderr)
		}
	}
	blobs, snaps, temps := storeContents(t, root)
	// 2 layers + config + manifest; 2 snapshots.
	if blobs != 4 || snaps != 2 || temps != 0 {
		t.Fatalf("%d blobs, %d snapshots, %d temp files; want 4, 2, 0", blobs, snaps, temps)
	}
	// Each pull fetches the config; the layers once in all.
	if n := gets.Load(); n != 4 {
		t.Errorf("%d blob downloads, want 4 (2 configs, 2 layers once)", n)
	}
}

// A pull onto a full disk fails with the reason and leaves nothing.
func TestPullOntoAFullDiskLeavesNothing(t *testing.T) {
	reg := startRegistry(t, nil)
	pushImage(t, reg+"/big:1", imageOf(t, hostArch(), v1.Config{}, busyboxLayer(t)))
	root := filepath.Join(suiteDir, "fulldisk")
	os.MkdirAll(root, 0o700)
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=600k"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(root, unix.MNT_DETACH); os.Remove(root) })
	r := engine(t, root, "pull", reg+"/big:1")
	// Either the layer is bounded by the free space up front, or the
	// disk fills on the way: each says so.
	if r.code == 0 || !strings.Contains(r.stderr, "no space left on device") && !strings.Contains(r.stderr, "bytes free on the storage root's filesystem") {
		t.Fatalf("pull onto a full disk: %d %s", r.code, r.stderr)
	}
	if out := mustEngine(t, root, "images", "-q"); out != "" {
		t.Fatalf("registered %q", out)
	}
	if blobs, snaps, temps := storeContents(t, root); blobs+snaps+temps != 0 {
		t.Fatalf("left %d blobs, %d snapshots, %d temp files", blobs, snaps, temps)
	}
}

// A hostile layer (an entry through a symlink out of the layer) fails
// the pull; nothing outside the store is written and nothing registered.
func TestHostileLayerPullIsRefused(t *testing.T) {
	reg := startRegistry(t, nil)
	victim := filepath.Join(suiteDir, "victim")
	os.MkdirAll(victim, 0o755)
	pushImage(t, reg+"/evil:1", imageOf(t, hostArch(), v1.Config{}, layerOf(t,
		tarEntry{name: "../../../../escape-dotdot", typ: tar.TypeReg, body: "x"},
		tarEntry{name: "out", typ: tar.TypeSymlink, link: victim},
		tarEntry{name: "out/pwned", typ: tar.TypeReg, body: "x"})))
	root := storage(t)
	r := engine(t, root, "pull", reg+"/evil:1")
	if r.code == 0 {
		t.Fatal("hostile layer pulled")
	}
	if _, err := os.Stat(filepath.Join(victim, "pwned")); err == nil {
		t.Fatal("the layer wrote through a symlink out of it")
	}
	if _, err := os.Stat("/escape-dotdot"); err == nil {
		os.Remove("/escape-dotdot")
		t.Fatal("the layer wrote outside through ..")
	}
	if out := mustEngine(t, root, "images", "-q"); out != "" {
		t.Fatalf("registered %q", out)
	}
}

// save → podman load → podman save → berth load keeps the image; so
// does an OCI archive.
func TestSaveLoadRoundTripWithPodman(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatal("podman is not installed (make deps installs it)")
	}
	reg := startRegistry(t, nil)
	id := pushImage(t, reg+"/rt:1", imageOf(t, hostArch(), v1.Config{Cmd: []string{"sh"}}, busyboxLayer(t), layerOf(t, tarEntry{name: "etc/x", typ: tar.TypeReg, body: "x"})))
	root := storage(t)
	mustEngine(t, root, "pull", reg+"/rt:1")
	dir := t.TempDir()
	archive := filepath.Join(dir, "rt.tar")
	mustEngine(t, root, "save", "-o", archive, reg+"/rt:1")

	pdir := filepath.Join(suiteDir, "podman-load")
	p := []string{"--root", filepath.Join(pdir, "storage"), "--runroot", filepath.Join(pdir, "run"), "--tmpdir", filepath.Join(pdir, "tmp"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	podman := func(args ...string) string {
		out, err := exec.Command("podman", append(append([]string(nil), p...), args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman %v: %v: %s", args, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { exec.Command("podman", append(p, "system", "reset", "-f")...).Run(); os.RemoveAll(pdir) })
	if out := podman("load", "-i", archive); !strings.Contains(out, reg+"/rt:1") {
		t.Fatalf("podman load: %s", out)
	}
	if got := strings.TrimSpace(podman("image", "inspect", "--format", "{{.Id}}", reg+"/rt:1")); got != id.Hex {
		t.Fatalf("podman sees ID %s, want %s", got, id.Hex)
	}
	back := filepath.Join(dir, "back.tar")
	podman("save", "--format", "docker-archive", "-o", back, reg+"/rt:1")
	root2 := storage(t)
	if out := mustEngine(t, root2, "load", "-i", back); !strings.Contains(out, "Loaded image: "+reg+"/rt:1") {
		t.Fatalf("berth load: %s", out)
	}
	if got := strings.TrimSpace(mustEngine(t, root2, "images", "-q", "--no-trunc")); got != id.String() {
		t.Fatalf("loaded ID %s, want %s", got, id)
	}
	if b, _ := os.ReadFile(filepath.Join(mountImage(t, root2, id.String()), "etc/x")); string(b) != "x" {
		t.Fatal("loaded image's layer content")
	}
	// OCI archive, by stdin.
	oci := filepath.Join(dir, "rt.oci.tar")
	mustEngine(t, root, "save", "--format", "oci-archive", "-o", oci, reg+"/rt:1")
	root3 := storage(t)
	f, _ := os.Open(oci)
	defer f.Close()
	if r := engineIn(t, root3, f, "load"); r.code != 0 || !strings.Contains(r.stdout, "Loaded image: "+reg+"/rt:1") {
		t.Fatalf("load oci-archive: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if got := strings.TrimSpace(mustEngine(t, root3, "images", "-q", "--no-trunc")); got != id.String() {
		t.Fatalf("OCI round trip ID %s, want %s", got, id)
	}
	// Garbage is refused with one line, and registers nothing.
	if r := engineIn(t, root3, strings.NewReader("not a tar"), "load"); r.code == 0 || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("load of garbage: %d %q", r.code, r.stderr)
	}
}

// skopeo copies from the loopback registry into an OCI layout; berth
// loads the layout.
func TestSkopeoOCILayoutLoads(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Fatal("skopeo is not installed (make deps installs it)")
	}
	reg := startRegistry(t, nil)
	id := pushImage(t, reg+"/sk:1", imageOf(t, hostArch(), v1.Config{}, busyboxLayer(t)))
	layoutDir := filepath.Join(t.TempDir(), "layout")
	if out, err := exec.Command("skopeo", "copy", "--src-tls-verify=false", "docker://"+reg+"/sk:1", "oci:"+layoutDir+":sk").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v: %s", err, out)
	}
	// skopeo rewrote the Docker manifest and config as OCI ones: the ID
	// to expect is the layout's config digest.
	lp, err := layout.FromPath(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := lp.ImageIndex()
	im, _ := idx.IndexManifest()
	limg, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	lid, _ := limg.ConfigName()
	root := storage(t)
	if out := mustEngine(t, root, "load", "-i", layoutDir); !strings.Contains(out, "Loaded image ID: "+lid.String()) {
		t.Fatalf("load of a skopeo layout: %s (want %s; pushed %s)", out, lid, id)
	}
}

// import makes a one-layer image with --change applied; login stores
// credentials a protected registry accepts.
func TestImportAndLogin(t *testing.T) {
	root := storage(t)
	tarPath := filepath.Join(suiteDir, "busybox-layer.tar")
	busyboxLayer(t) // makes the tar
	out := mustEngine(t, root, "import", "-c", "CMD [\"sh\", \"-c\", \"echo hi\"]", "-c", "ENV A=1 B=\"two words\"", "-c", "WORKDIR /tmp", "-m", "imported", tarPath, "imported:v1")
	id := strings.TrimSpace(out)
	got := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.Id}} {{json .Config.Cmd}} {{json .Config.Env}} {{.Config.WorkingDir}} {{.Comment}}", "imported:v1"))
	if got != id+` ["sh","-c","echo hi"] ["A=1","B=two words"] /tmp imported` {
		t.Fatalf("imported image: %s", got)
	}
	if h := mustEngine(t, root, "history", "imported:v1"); !strings.Contains(h, "berth import") {
		t.Fatalf("history: %s", h)
	}
	if r := engine(t, root, "import", "-c", "FROM x", tarPath); r.code == 0 || !strings.Contains(r.stderr, "FROM is not one of") {
		t.Fatalf("bad --change: %d %s", r.code, r.stderr)
	}
	if df := mustEngine(t, root, "system", "df"); !strings.Contains(df, "Images") {
		t.Fatalf("system df: %s", df)
	}

	reg := startRegistry(t, basicAuth("user", "secret"))
	mustEngine(t, root, "tag", "imported:v1", reg+"/private:1")
	if r := engine(t, root, "push", reg+"/private:1"); r.code == 0 {
		t.Fatal("push without login succeeded")
	}
	if r := engineIn(t, root, strings.NewReader("wrong\n"), "login", "-u", "user", "--password-stdin", reg); r.code == 0 || !strings.Contains(r.stderr, "unauthorized") {
		t.Fatalf("login with a wrong password: %d %s", r.code, r.stderr)
	}
	if r := engineIn(t, root, strings.NewReader("secret\n"), "login", "-u", "user", "--password-stdin", reg); r.code != 0 || !strings.Contains(r.stdout, "Login Succeeded") {
		t.Fatalf("login: %d %s", r.code, r.stderr)
	}
	cfg, _ := os.ReadFile(filepath.Join(root, "docker-config", "config.json"))
	if !strings.Contains(string(cfg), `"`+reg+`"`) {
		t.Fatalf("config.json: %s", cfg)
	}
	mustEngine(t, root, "push", reg+"/private:1")
	root2 := storage(t)
	os.MkdirAll(filepath.Join(root2, "docker-config"), 0o700)
	os.WriteFile(filepath.Join(root2, "docker-config", "config.json"), cfg, 0o600)
	mustEngine(t, root2, "pull", reg+"/private:1")
	mustEngine(t, root, "logout", reg)
	if r := engine(t, root, "pull", reg+"/private:1"); r.code == 0 {
		t.Fatal("pull after logout succeeded")
	}
}
