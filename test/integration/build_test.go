package integration

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ulikunitz/xz"
)

// buildContext writes a build context: path -> contents (mode 0644, or
// 0755 for a name under bin/).
func buildContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir, err := os.MkdirTemp(suiteDir, "context-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for p, body := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(p, "bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mustBuild runs berth build and returns what it printed, its progress
// (standard error) then standard output.
func mustBuild(t *testing.T, root string, args ...string) string {
	t.Helper()
	r := engine(t, root, append([]string{"build"}, args...)...)
	if r.code != 0 {
		t.Fatalf("berth build %v: exit %d: %s%s", args, r.code, r.stdout, r.stderr)
	}
	return r.stderr + r.stdout
}

// readTar calls each on every entry of the tar r, with its content.
func readTar(t *testing.T, r io.Reader, each func(h *tar.Header, body io.Reader)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not a tar: %v", err)
		}
		each(h, tr)
	}
}

// buildLeftNothing fails the test if a failed build left a step
// container or tagged ref.
func buildLeftNothing(t *testing.T, root, ref string) {
	t.Helper()
	if out := mustEngine(t, root, "ps", "-a", "-q"); out != "" {
		t.Fatalf("step containers left: %s", out)
	}
	if r := engine(t, root, "image", "inspect", ref); r.code == 0 {
		t.Fatalf("a failed build tagged %s", ref)
	}
}

// cachedSteps are the steps a build's plain progress shows as CACHED.
func cachedSteps(out string) []string {
	names := map[string]string{}
	var cached []string
	for _, l := range strings.Split(out, "\n") {
		n, rest, ok := strings.Cut(l, " ")
		if !ok || !strings.HasPrefix(n, "#") {
			continue
		}
		if rest == "CACHED" {
			cached = append(cached, names[n])
		} else if strings.HasPrefix(rest, "[") {
			names[n] = rest
		}
	}
	return cached
}

// TestBuildPushPullAndRun is Docker's first workflow: build the
// Dockerfile of a static Go server, push it, remove it, pull it back
// and run it with a published port.
func TestBuildPushPullAndRun(t *testing.T) {
	root := engineWithBusybox(t)
	server, err := os.ReadFile(httpServerBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := buildContext(t, map[string]string{
		"Dockerfile":           "FROM busybox:it\nENV MY_SERVICE_PORT=80\nADD bin/amd64/httpserver /httpserver\nENTRYPOINT /httpserver\n",
		"bin/amd64/httpserver": string(server),
	})
	reg := startRegistry(t, nil)
	// The classic builder's form, what the Engine API streams.
	out := mustEngine(t, root, "build", "--progress=classic", "-t", reg+"/app:v1", ctx)
	if !strings.Contains(out, "Step 4/4 : ENTRYPOINT /httpserver") || !strings.Contains(out, "Successfully tagged "+reg+"/app:v1") {
		t.Fatalf("build output:\n%s", out)
	}
	cfg := mustEngine(t, root, "image", "inspect", "-f", "{{json .Config.Entrypoint}} {{json .Config.Env}}", reg+"/app:v1")
	// PATH is set when the base sets none, as BuildKit does.
	if cfg != `["/bin/sh","-c","/httpserver"] ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","MY_SERVICE_PORT=80"]`+"\n" {
		t.Fatalf("config: %s", cfg)
	}
	mustEngine(t, root, "push", reg+"/app:v1")
	mustEngine(t, root, "rmi", reg+"/app:v1")
	mustEngine(t, root, "pull", "-q", reg+"/app:v1")
	port := freePort(t)
	mustEngine(t, root, "run", "-d", "--name", "app", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), reg+"/app:v1")
	var body string
	for i := 0; i < 50; i++ {
		if body, err = httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if body != "hello from scratch\n" {
		t.Fatalf("the built server answered %q, %v", body, err)
	}
	if n := strings.Count(mustEngine(t, root, "ps", "-a", "-q"), "\n"); n != 1 {
		t.Fatalf("%d containers after the build and the run: no step container may stay", n)
	}
}

// TestBuildMultiStage: ARG before FROM, a named stage, WORKDIR, a
// heredoc RUN, COPY --from, and a .dockerignore with ** and !.
func TestBuildMultiStage(t *testing.T) {
	root := engineWithBusybox(t)
	ctx := buildContext(t, map[string]string{
		"Dockerfile": `# syntax=docker/dockerfile:1
ARG BASE=busybox:it
FROM --platform=$BUILDPLATFORM ${BASE} AS build
ARG GREETING=hello
ARG TARGETOS
WORKDIR /work
COPY src/ ./
RUN <<EOT
echo "$GREETING $(cat a.txt) on $TARGETOS" > out.txt
ls > listing.txt
EOT

FROM busybox:it
COPY --from=build /work/out.txt /work/listing.txt /data/
CMD ["cat", "/data/out.txt", "/data/listing.txt"]
`,
		"src/a.txt":     "world",
		"src/x.log":     "ignored",
		"src/keep.log":  "kept",
		".dockerignore": "**/*.log\n!src/keep.log\n",
	})
	mustEngine(t, root, "build", "-t", "multi:1", "--build-arg", "GREETING=hi", ctx)
	if got := mustEngine(t, root, "run", "--rm", "multi:1"); got != "hi world on linux\na.txt\nkeep.log\nlisting.txt\nout.txt\n" {
		t.Fatalf("multi-stage result: %q", got)
	}
	if hist := mustEngine(t, root, "history", "--no-trunc", "--format", "{{.CreatedBy}}", "multi:1"); !strings.Contains(hist, "COPY --from=build") || !strings.Contains(hist, `CMD ["cat", "/data/out.txt", "/data/listing.txt"]`) {
		t.Fatalf("history:\n%s", hist)
	}
	// The same context again: every layer step is CACHED, and the image
	// is the same one.
	id := mustEngine(t, root, "image", "inspect", "-f", "{{.Id}}", "multi:1")
	again := mustBuild(t, root, "-t", "multi:1", "--build-arg", "GREETING=hi", ctx)
	if n := strings.Count(again, "CACHED"); n != 3 {
		t.Fatalf("a second build cached %d of 3 layer steps:\n%s", n, again)
	}
	if got := mustEngine(t, root, "image", "inspect", "-f", "{{.Id}}", "multi:1"); got != id {
		t.Fatalf("a cached build made %s, the first %s", got, id)
	}
	// The cache survives the result's removal.
	mustEngine(t, root, "rmi", "multi:1")
	if n := strings.Count(mustBuild(t, root, "-t", "multi:1", "--build-arg", "GREETING=hi", ctx), "CACHED"); n != 3 {
		t.Fatalf("a build after rmi cached %d of 3 layer steps", n)
	}
	// Another build arg changes the RUN, not the COPY before it; an
	// ignored file changes nothing.
	if err := os.WriteFile(filepath.Join(ctx, "src", "x.log"), []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustBuild(t, root, "-t", "multi:2", "--build-arg", "GREETING=hey", ctx)
	if c := cachedSteps(out); len(c) != 1 || !strings.HasSuffix(c[0], "] COPY src/ ./") {
		t.Fatalf("a new build arg rebuilt from the wrong step:\n%s", out)
	}
	if got := mustEngine(t, root, "run", "--rm", "multi:2"); !strings.HasPrefix(got, "hey world on linux\n") {
		t.Fatalf("rebuilt result: %q", got)
	}
	if n := strings.Count(mustEngine(t, root, "images", "-q"), "\n"); n != 3 {
		t.Fatalf("images lists %d images: the build's intermediates are shown only with -a", n)
	}
	mustEngine(t, root, "builder", "prune", "-f")
	if out := mustBuild(t, root, "-t", "multi:1", "--build-arg", "GREETING=hi", ctx); strings.Contains(out, "CACHED") {
		t.Fatalf("a build after builder prune was cached:\n%s", out)
	}
}

// TestBuildFailuresNameTheLineAndLeaveNothing: a failing RUN, a source
// outside the context, an unknown instruction and what is not supported
// yet are one line naming the file, the line and the instruction.
func TestBuildFailuresNameTheLineAndLeaveNothing(t *testing.T) {
	root := engineWithBusybox(t)
	for name, c := range map[string]struct{ dockerfile, want string }{
		"failing RUN":  {"FROM busybox:it\nRUN echo partial > /f; exit 3\n", "Dockerfile:2: RUN echo partial > /f; exit 3: the command returned a non-zero code: 3"},
		"outside":      {"FROM busybox:it\nCOPY ../x /x\n", "Dockerfile:2: COPY ../x /x: ../x: forbidden path outside the build context"},
		"unknown":      {"FROM busybox:it\nBOGUS x\n", "unknown instruction: BOGUS"},
		"missing file": {"FROM busybox:it\nCOPY nosuch /x\n", "Dockerfile:2: COPY nosuch /x: nosuch: no such file or directory in the build context"},
		// Not a stage, so an image to pull: from a loopback port where no
		// registry listens (no test resolves an outside name).
		"no stage": {"FROM busybox:it\nCOPY --from=127.0.0.1:9/nosuch /x /x\n", "Dockerfile:2: COPY --from=127.0.0.1:9/nosuch /x /x: --from=127.0.0.1:9/nosuch: pull 127.0.0.1:9/nosuch:latest"},
		"platform": {"FROM --platform=linux/s390x busybox:it\n", "Dockerfile:1: FROM --platform=linux/s390x: building for another platform than this host's is not supported yet"},
	} {
		ctx := buildContext(t, map[string]string{"Dockerfile": c.dockerfile})
		r := engine(t, root, "build", "--progress=quiet", "-t", "bad:1", ctx)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code == 0 || len(lines) != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q, want one line with %q", name, r.code, r.stderr, c.want)
		}
	}
	buildLeftNothing(t, root, "bad:1")
}

// TestBuildRunMounts: a cache mount outlives the build, a secret reaches
// RUN as a file and as a variable and nowhere else, a tmpfs and a bind
// of the context leave nothing in the layer.
func TestBuildRunMounts(t *testing.T) {
	root := engineWithBusybox(t)
	secret := "tok-" + strings.Repeat("x7", 8)
	secretFile := filepath.Join(suiteDir, "build-secret")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(secretFile)
	ctx := buildContext(t, map[string]string{
		"Dockerfile": `FROM busybox:it
RUN --mount=type=cache,target=/cache sh -c 'echo run >> /cache/log; wc -l < /cache/log > /runs'
RUN --mount=type=secret,id=tok sh -c 'test -s /run/secrets/tok && echo file-ok > /secret-file'
RUN --mount=type=secret,id=tok,env=TOK sh -c 'test -n "$TOK" && echo env-ok > /secret-env'
RUN --mount=type=tmpfs,target=/scratch sh -c 'echo x > /scratch/f'
RUN --mount=type=bind,source=src,target=/mnt cp /mnt/a.txt /bound
`,
		"src/a.txt": "bound\n",
	})
	for i := 0; i < 2; i++ {
		mustEngine(t, root, "build", "--no-cache", "--secret", "id=tok,src="+secretFile, "-t", "mounts:1", ctx)
	}
	got := mustEngine(t, root, "run", "--rm", "mounts:1", "sh", "-c", "cat /runs /secret-file /secret-env /bound; ls -d /cache /scratch /mnt /run/secrets/tok 2>/dev/null | wc -l")
	if strings.Fields(got)[0] != "2" || !strings.Contains(got, "file-ok\nenv-ok\nbound\n0\n") {
		t.Fatalf("mounts in RUN: %q", got)
	}
	archive := filepath.Join(suiteDir, "mounts.tar")
	mustEngine(t, root, "save", "-o", archive, "mounts:1")
	defer os.Remove(archive)
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) {
		t.Fatal("the secret is in the image")
	}
	// Without --secret the mount is left out (it is not required), and
	// the RUN fails on its test, as with Docker.
	if r := engine(t, root, "build", "--no-cache", "-t", "mounts:2", ctx); r.code == 0 || !strings.Contains(r.stderr, "non-zero code: 1") {
		t.Fatalf("a build without the secret: %d %q", r.code, r.stderr)
	}
}

// TestBuildCopyChownChmod: --chown by name (the image's /etc/passwd and
// /etc/group) and by number, --chmod; the directories above keep their
// owners and modes.
func TestBuildCopyChownChmod(t *testing.T) {
	root := engineWithBusybox(t)
	ctx := buildContext(t, map[string]string{
		"Dockerfile": `FROM busybox:it
RUN echo 'app:x:1234:2345::/home/app:/bin/sh' >> /etc/passwd && echo 'grp:x:3456:' >> /etc/group && chmod 1777 /tmp
COPY --chown=app:grp src/ /tmp/app/
COPY --chown=1000 --chmod=600 src/a.txt /opt/one
`,
		"src/a.txt": "a\n",
	})
	mustEngine(t, root, "build", "-t", "own:1", ctx)
	got := mustEngine(t, root, "run", "--rm", "own:1", "sh", "-c", "stat -c '%n %u %g %a' /tmp /tmp/app/a.txt /opt/one")
	if want := "/tmp 0 0 1777\n/tmp/app/a.txt 1234 3456 644\n/opt/one 1000 1000 600\n"; got != want {
		t.Fatalf("owners and modes:\n%s\nwant\n%s", got, want)
	}
}

// TestBuildInterruptedLeavesNothing: Ctrl-C during a RUN ends the build
// with no step container left and nothing tagged.
func TestBuildInterruptedLeavesNothing(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			root := engineWithBusybox(t)
			ctx := buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it\nRUN echo started; sleep 60\n"})
			cmd := exec.Command(*berthBin, "--root", root, "--runroot", filepath.Join(root, "run"), "build", "-t", "cut:1", ctx)
			out, err := cmd.StderrPipe() // the progress
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(out)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("the build ended before its RUN: %v", err)
				}
				if strings.HasSuffix(line, " started\n") { // "#3 0.012 started"
					break
				}
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err == nil {
				t.Fatal("an interrupted build succeeded")
			}
			if sig == syscall.SIGKILL {
				// The step's monitor kills the step when its builder is
				// gone; the next build removes what is left of it.
				for i := 0; mustEngine(t, root, "ps", "-q") != ""; i++ {
					if i == 100 {
						t.Fatal("the step of a killed builder still runs")
					}
					time.Sleep(50 * time.Millisecond)
				}
				mustBuild(t, root, "-q", buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it\n"}))
			}
			buildLeftNothing(t, root, "cut:1")
		})
	}
}

// tarOf is a tar of entries {name, body}: a name ending in / is a
// directory, a body "->target" a symlink, anything else a file. Owned
// entries are 1234:5678 mode 0750; the others root's, mode 0644.
func tarOf(t *testing.T, owned bool, entries ...[2]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		hdr := &tar.Header{Name: e[0], Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e[1]))}
		if owned {
			hdr.Mode, hdr.Uid, hdr.Gid = 0o750, 1234, 5678
		}
		if target, ok := strings.CutPrefix(e[1], "->"); ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeSymlink, target, 0
		} else if strings.HasSuffix(e[0], "/") {
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e[1])[:hdr.Size]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestBuildAddArchivesAndURLs: ADD unpacks a local archive, known by its
// content (gzip here, xz under a name without a suffix), keeping its
// owners and confining its entries; a file that is not a tar is copied
// as it is; a URL (a server on loopback) is fetched, checked against
// --checksum, and not unpacked. A .wh. name unpacks without error but
// cannot be in an image: in a layer it is a whiteout, as with Docker.
func TestBuildAddArchivesAndURLs(t *testing.T) {
	root := engineWithBusybox(t)
	plain := tarOf(t, true, [2]string{"pkg/", ""}, [2]string{"pkg/run.sh", "echo run\n"}, [2]string{".wh.keep", "k\n"}, [2]string{"../../escape", "e\n"})
	var gz, xzb bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(plain); err != nil || zw.Close() != nil {
		t.Fatal(err)
	}
	xw, err := xz.NewWriter(&xzb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xw.Write(tarOf(t, true, [2]string{"x.txt", "from xz\n"})); err != nil || xw.Close() != nil {
		t.Fatal(err)
	}
	tool := "#!/bin/sh\necho tool\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/files/tool.tar" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Last-Modified", "Tue, 01 Jun 2021 10:00:00 GMT")
		_, _ = w.Write(append([]byte(tool), plain...)) // not a tar at its start
	}))
	defer srv.Close()
	sum := sha256.Sum256(append([]byte(tool), plain...))
	checksum := "sha256:" + hex.EncodeToString(sum[:])
	ctx := buildContext(t, map[string]string{
		"Dockerfile": fmt.Sprintf(`FROM busybox:it
RUN chmod 1777 /tmp
ADD data.tgz /tmp/
ADD data.bin notes.tar.txt /srv/
ADD --checksum=%s %s/files/tool.tar /opt/
`, checksum, srv.URL),
		"data.tgz":      gz.String(),
		"data.bin":      xzb.String(),
		"notes.tar.txt": "not a tar\n",
	})
	mustEngine(t, root, "build", "-t", "add:1", ctx)
	got := mustEngine(t, root, "run", "--rm", "add:1", "sh", "-c",
		"stat -c '%n %u %g %a' /tmp /tmp/pkg/run.sh /tmp/escape /opt/tool.tar; test -e /tmp/.wh.keep || echo no-wh; cat /srv/x.txt /srv/notes.tar.txt; date -u -r /opt/tool.tar +%Y; test -e /escape || echo confined")
	want := "/tmp 0 0 1777\n/tmp/pkg/run.sh 1234 5678 750\n/tmp/escape 1234 5678 750\n/opt/tool.tar 0 0 600\nno-wh\nfrom xz\nnot a tar\n2021\nconfined\n"
	if got != want {
		t.Fatalf("ADD results:\n%s\nwant\n%s", got, want)
	}
	if out := mustBuild(t, root, "-t", "add:1", ctx); strings.Count(out, "CACHED") != 4 {
		t.Fatalf("a second build is not all CACHED:\n%s", out)
	}
	bad := buildContext(t, map[string]string{"Dockerfile": fmt.Sprintf("FROM busybox:it\nADD --checksum=sha256:%s %s/files/tool.tar /opt/\n", strings.Repeat("0", 64), srv.URL)})
	if r := engine(t, root, "build", "-t", "add:2", bad); r.code == 0 || !strings.Contains(r.stderr, "content does not match --checksum") {
		t.Fatalf("a wrong --checksum: exit %d, %q", r.code, r.stderr)
	}
	missing := buildContext(t, map[string]string{"Dockerfile": fmt.Sprintf("FROM busybox:it\nADD %s/nosuch /opt/\n", srv.URL)})
	if r := engine(t, root, "build", "-t", "add:3", missing); r.code == 0 || !strings.Contains(r.stderr, "404 Not Found") {
		t.Fatalf("a missing URL: exit %d, %q", r.code, r.stderr)
	}
	if left, err := os.ReadDir(filepath.Join(root, "build-scratch")); err != nil || len(left) != 0 {
		t.Fatalf("failed builds left staging behind: %v %v", left, err)
	}
}

// TestBuildOnbuildTriggers: a base's ONBUILD triggers run, in order, in
// the build of an image FROM it, with that build's context, and are not
// passed on to its children.
func TestBuildOnbuildTriggers(t *testing.T) {
	root := engineWithBusybox(t)
	base := buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it\nONBUILD COPY app.txt /app/\nONBUILD RUN wc -c < /app/app.txt > /app/size\n"})
	mustEngine(t, root, "build", "-t", "onbuild-base:1", base)
	if got := mustEngine(t, root, "image", "inspect", "-f", "{{json .Config.OnBuild}}", "onbuild-base:1"); got != `["COPY app.txt /app/","RUN wc -c < /app/app.txt > /app/size"]`+"\n" {
		t.Fatalf("the base's triggers: %s", got)
	}
	child := buildContext(t, map[string]string{"Dockerfile": "FROM onbuild-base:1\nRUN cat /app/size > /app/seen\n", "app.txt": "hello\n"})
	out := mustBuild(t, root, "-t", "onbuild-child:1", child)
	if !strings.Contains(out, " ONBUILD COPY app.txt /app/\n") || !strings.Contains(out, " ONBUILD RUN wc -c < /app/app.txt > /app/size\n") {
		t.Fatalf("build output:\n%s", out)
	}
	if got := mustEngine(t, root, "run", "--rm", "onbuild-child:1", "cat", "/app/app.txt", "/app/seen"); got != "hello\n6\n" {
		t.Fatalf("the triggers' work: %q", got)
	}
	if got := mustEngine(t, root, "image", "inspect", "-f", "{{json .Config.OnBuild}}", "onbuild-child:1"); got != "null\n" && got != "[]\n" {
		t.Fatalf("the child kept its base's triggers: %s", got)
	}
	// A grandchild runs none: its context lacks app.txt, and it builds.
	grand := buildContext(t, map[string]string{"Dockerfile": "FROM onbuild-child:1\nRUN test -s /app/seen\n"})
	mustEngine(t, root, "build", "-t", "onbuild-grand:1", grand)
	// A trigger that fails names the FROM line and the trigger.
	bad := buildContext(t, map[string]string{"Dockerfile": "FROM onbuild-base:1\n"})
	if r := engine(t, root, "build", "-t", "onbuild-bad:1", bad); r.code == 0 || !strings.Contains(r.stderr, "Dockerfile:1: FROM onbuild-base:1: ONBUILD COPY app.txt /app/: app.txt: no such file") {
		t.Fatalf("a failing trigger: exit %d, %q", r.code, r.stderr)
	}
}

// TestBuildContextOnStdin: `build -` reads a gzip tar as the context
// (with -f naming a file in it), or a Dockerfile with no context; a
// tar's entries and its Dockerfile stay inside it.
func TestBuildContextOnStdin(t *testing.T) {
	root := engineWithBusybox(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(tarOf(t, false, [2]string{"build/App.dockerfile", "FROM busybox:it\nCOPY a.txt b.txt /\n"},
		[2]string{"a.txt", "from the tar\n"}, [2]string{"../../b.txt", "confined\n"})); err != nil || zw.Close() != nil {
		t.Fatal(err)
	}
	mustIn := func(stdin io.Reader, args ...string) {
		t.Helper()
		if r := engineIn(t, root, stdin, args...); r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
	}
	mustIn(bytes.NewReader(gz.Bytes()), "build", "-f", "build/App.dockerfile", "-t", "stdin:tar", "-")
	if got := mustEngine(t, root, "run", "--rm", "stdin:tar", "cat", "/a.txt", "/b.txt"); got != "from the tar\nconfined\n" {
		t.Fatalf("a context from a tar: %q", got)
	}
	mustIn(strings.NewReader("FROM busybox:it\nCMD [\"echo\", \"no context\"]\n"), "build", "-t", "stdin:file", "-")
	if got := mustEngine(t, root, "run", "--rm", "stdin:file"); got != "no context\n" {
		t.Fatalf("a Dockerfile on stdin: %q", got)
	}
	hostile := tarOf(t, false, [2]string{"Dockerfile", "->/etc/hostname"})
	if r := engineIn(t, root, bytes.NewReader(hostile), "build", "-t", "stdin:bad", "-"); r.code == 0 || !strings.Contains(r.stderr, "the context has no Dockerfile") {
		t.Fatalf("a Dockerfile linking out of the context: exit %d, %q", r.code, r.stderr)
	}
	if r := engineIn(t, root, strings.NewReader(""), "build", "-f", "-", "-"); r.code == 0 || !strings.Contains(r.stderr, "cannot both come from standard input") {
		t.Fatalf("both on stdin: exit %d, %q", r.code, r.stderr)
	}
}

// TestBuildCopyExclude: --exclude drops matching files under a copied
// directory and matching sources, with ** and !.
func TestBuildCopyExclude(t *testing.T) {
	root := engineWithBusybox(t)
	ctx := buildContext(t, map[string]string{
		"Dockerfile": `FROM busybox:it
COPY --exclude=**/*.log --exclude=secret* src/ /app/
COPY --exclude=*.md *.txt *.md /docs/
`,
		"src/main.go": "package main\n", "src/deep/x.log": "log\n", "src/keep.log.txt": "k\n", "src/secret.key": "s\n",
		"a.txt": "a\n", "b.md": "b\n",
	})
	mustEngine(t, root, "build", "-t", "exclude:1", ctx)
	if got := mustEngine(t, root, "run", "--rm", "exclude:1", "find", "/app", "/docs", "-type", "f"); got != "/app/keep.log.txt\n/app/main.go\n/docs/a.txt\n" {
		// find lists in directory order: compare as sets.
		want := map[string]bool{"/app/keep.log.txt": true, "/app/main.go": true, "/docs/a.txt": true}
		lines := strings.Fields(got)
		for _, l := range lines {
			delete(want, l)
		}
		if len(lines) != 3 || len(want) != 0 {
			t.Fatalf("copied with --exclude:\n%s", got)
		}
	}
}

// TestBuildStagesAtOnce: stages that do not depend on each other build
// at the same time: each of two stages waits, through a shared cache
// mount, for the other to have begun, which a build going stage by
// stage never gets past. A private cache mount is a directory of each
// step's own while both run; a locked one is one step's at a time.
func TestBuildStagesAtOnce(t *testing.T) {
	root := engineWithBusybox(t)
	// meet X Y: say X has begun, then wait (up to 30 s) for Y.
	meet := `meet() { touch /m/$1; i=0; while [ ! -e /m/$2 ]; do i=$((i+1)); [ $i -lt 300 ] || exit 7; sleep 0.1; done; }; `
	private := "--mount=type=cache,id=mine,target=/p,sharing=private"
	locked := "--mount=type=cache,id=one,target=/l,sharing=locked"
	stage := func(name, other string) string {
		return fmt.Sprintf("FROM busybox:it AS %[1]s\n"+
			"RUN --mount=type=cache,id=meet,target=/m %[3]s sh -c '%[4]s touch /p/%[1]s; meet %[1]s %[2]s; ls /p > /seen-private'\n"+
			"RUN %[5]s sh -c 'test ! -e /l/busy || exit 9; touch /l/busy; sleep 0.3; rm /l/busy; echo %[1]s >> /l/order'\n",
			name, other, private, meet, locked)
	}
	ctx := buildContext(t, map[string]string{"Dockerfile": stage("left", "right") + stage("right", "left") +
		"FROM busybox:it\nCOPY --from=left /seen-private /left\nCOPY --from=right /seen-private /right\n" +
		"RUN --mount=type=cache,id=one,target=/l cat /l/order | sort > /order\nCMD cat /left /right /order\n"})
	out := mustBuild(t, root, "--progress=plain", "-t", "both:1", ctx)
	if got := mustEngine(t, root, "run", "--rm", "both:1"); got != "left\nright\nleft\nright\n" {
		t.Fatalf("each private cache has only its own step's file, and both locked steps ran: %q\n%s", got, out)
	}
}

// TestBuildFailingStageStopsTheOthers: when one stage fails, a stage
// building beside it is stopped: the build fails with the first error,
// and no step container is left.
func TestBuildFailingStageStopsTheOthers(t *testing.T) {
	root := engineWithBusybox(t)
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it AS slow\nRUN sleep 60\n" +
		"FROM busybox:it AS bad\nRUN exit 3\n" +
		"FROM busybox:it\nCOPY --from=slow /etc/hostname /a\nCOPY --from=bad /etc/hostname /b\n"})
	r := engine(t, root, "build", "--progress=plain", "-t", "never:1", ctx)
	if r.code == 0 || !strings.Contains(r.stderr, "Dockerfile:4: RUN exit 3: the command returned a non-zero code: 3") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	buildLeftNothing(t, root, "never:1")
}

// TestBuildOutputsAndParents: --output writes the result's filesystem
// into a directory or a tar, and the image as an OCI archive; COPY
// --parents keeps the sources' paths (below a /./) under the
// destination, with ** at any depth.
func TestBuildOutputsAndParents(t *testing.T) {
	root := engineWithBusybox(t)
	ctx := buildContext(t, map[string]string{
		"Dockerfile": "FROM busybox:it\nCOPY --parents a/*/*.txt /p/\nCOPY --parents ./b/./**/*.go /q/\n",
		"a/x/1.txt":  "1", "a/y/2.txt": "2", "a/y/skip.md": "no", "b/3.go": "3", "b/c/d/4.go": "4",
	})
	out := filepath.Join(suiteDir, "out-local")
	defer os.RemoveAll(out)
	fsTar := filepath.Join(suiteDir, "out-fs.tar")
	defer os.Remove(fsTar)
	ociTar := filepath.Join(suiteDir, "out-oci.tar")
	defer os.Remove(ociTar)
	mustBuild(t, root, "-t", "out:1", "-o", "type=local,dest="+out, "--output", "type=tar,dest="+fsTar, "--output", "type=oci,dest="+ociTar, ctx)
	var got []string
	for _, p := range []string{"p/a/x/1.txt", "p/a/y/2.txt", "p/a/y/skip.md", "q/3.go", "q/c/d/4.go", "bin/busybox"} {
		if _, err := os.Stat(filepath.Join(out, p)); err == nil {
			got = append(got, p)
		}
	}
	if want := "p/a/x/1.txt p/a/y/2.txt q/3.go q/c/d/4.go bin/busybox"; strings.Join(got, " ") != want {
		t.Fatalf("local output has %v, want %s", got, want)
	}
	names := func(r io.Reader) map[string]bool {
		t.Helper()
		m := map[string]bool{}
		readTar(t, r, func(h *tar.Header, _ io.Reader) { m[strings.TrimPrefix(h.Name, "./")] = true })
		return m
	}
	f, err := os.Open(fsTar)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := names(f); !n["q/c/d/4.go"] || !n["bin/busybox"] {
		t.Fatalf("tar output: %v", n)
	}
	o, err := os.Open(ociTar)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if n := names(o); !n["oci-layout"] || !n["index.json"] {
		t.Fatalf("oci output: %v", n)
	}
	// -o - is the filesystem as a tar on standard output, and only that.
	r := engine(t, root, "build", "-o", "-", ctx)
	if r.code != 0 {
		t.Fatalf("build -o -: %s", r.stderr)
	}
	if n := names(strings.NewReader(r.stdout)); !n["p/a/x/1.txt"] {
		t.Fatalf("-o - output: %v", n)
	}
	mustBuild(t, root, "--platform", "linux/"+runtime.GOARCH, "-q", ctx)
	if r := engine(t, root, "build", "--platform", "linux/s390x", ctx); r.code == 0 || !strings.Contains(r.stderr, "--platform=linux/s390x: building for another platform than this host's") {
		t.Fatalf("another platform: exit %d: %s", r.code, r.stderr)
	}
	if r := engine(t, root, "build", "-o", "type=ftp,dest=x", ctx); r.code == 0 || !strings.Contains(r.stderr, `type "ftp" is not one of local, tar, oci, docker`) {
		t.Fatalf("a bad --output: exit %d: %s", r.code, r.stderr)
	}
}

// TestBuildPullAlways: without --pull a build uses the base image the
// store has; with it, the registry's newer one.
func TestBuildPullAlways(t *testing.T) {
	root := engineWithBusybox(t)
	reg := startRegistry(t, nil)
	base := reg + "/base:1"
	mustBuild(t, root, "-t", base, buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it\nRUN echo two > /v\n"}))
	mustEngine(t, root, "push", base)
	mustBuild(t, root, "-t", base, buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it\nRUN echo one > /v\n"}))
	child := buildContext(t, map[string]string{"Dockerfile": "FROM " + base + "\nCMD cat /v\n"})
	mustBuild(t, root, "-t", "child:1", child)
	if got := mustEngine(t, root, "run", "--rm", "child:1"); got != "one\n" {
		t.Fatalf("without --pull: %q", got)
	}
	mustBuild(t, root, "--pull", "-t", "child:2", child)
	if got := mustEngine(t, root, "run", "--rm", "child:2"); got != "two\n" {
		t.Fatalf("with --pull: %q", got)
	}
}

// TestBuildLayersAreWhatTheirTarsHold: a step's layer becomes its
// snapshot by renaming the step container's upper dir; what a container
// of the image then sees is what one sees after the image's tars are
// saved and loaded elsewhere (unpacked): files, a deleted file, a
// directory emptied and made again, a FIFO, links, modes, owners, and no
// trace of the runtime's mountpoints or the RUN's mounts.
func TestBuildLayersAreWhatTheirTarsHold(t *testing.T) {
	root := engineWithBusybox(t)
	ctx := buildContext(t, map[string]string{
		"Dockerfile": "FROM busybox:it\nCOPY data/ /data/\n" +
			"RUN --mount=type=tmpfs,target=/scratch/t --mount=type=cache,target=/cache rm /bin/vi && rm -rf /data/sub && mkdir /data/sub && echo new > /data/sub/n && " +
			"mkfifo /data/fifo && ln /data/a /data/hard && ln -s a /data/soft && chown 12:34 /data/a && chmod 4711 /data/sub && echo x > /cache/c\n",
		"data/a": "a", "data/sub/old": "old",
	})
	mustBuild(t, root, "-t", "layers:1", ctx)
	// The image's own files, without the runtime's mounts over them.
	files := func(root string) string {
		t.Helper()
		id := strings.TrimSpace(mustEngine(t, root, "create", "layers:1"))
		defer mustEngine(t, root, "rm", id)
		f := filepath.Join(suiteDir, "layers-export.tar")
		defer os.Remove(f)
		mustEngine(t, root, "export", "-o", f, id)
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		var lines []string
		readTar(t, in, func(h *tar.Header, _ io.Reader) {
			if !strings.HasPrefix(h.Name, "bin/") || h.Name == "bin/vi" {
				lines = append(lines, fmt.Sprintf("%s %c %o %d:%d %d %s", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Size, h.Linkname))
			}
		})
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	built := files(root)
	archive := filepath.Join(suiteDir, "layers.tar")
	defer os.Remove(archive)
	mustEngine(t, root, "save", "-o", archive, "layers:1")
	other := engineWithBusybox(t)
	mustEngine(t, other, "load", "-i", archive)
	if loaded := files(other); built != loaded {
		t.Fatalf("the built image's files:\n%s\nafter save and load:\n%s", built, loaded)
	}
	for _, want := range []string{"data/fifo 6 ", "data/a 0 644 12:34 1 ", "data/hard 1 644 12:34 0 data/a", "data/soft 2 777 0:0 0 a", "data/sub/ 5 4711", "data/sub/n 0 644"} {
		if !strings.Contains(built, want) {
			t.Fatalf("no %q in:\n%s", want, built)
		}
	}
	for _, gone := range []string{"bin/vi", "data/sub/old", "scratch/t", "cache", "etc/hosts", "etc/resolv.conf"} {
		if strings.Contains(built, gone) {
			t.Fatalf("%q in:\n%s", gone, built)
		}
	}
}

// TestBuildConfigMatchesPodmanBuild builds one Dockerfile with every
// metadata instruction with berth and with podman build (buildah) and
// compares the two images' configs and histories, as saved in Docker's
// archive format, field by field. The differences found are exactly
// the ones listed here, each for its reason.
func TestBuildConfigMatchesPodmanBuild(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatal("podman is not installed: make deps installs it")
	}
	root := engineWithBusybox(t)
	dir := filepath.Join(suiteDir, "podman-build")
	defer os.RemoveAll(dir)
	podman := podmanIn(dir, "runc")
	defer resetPodman(podman)
	rootfsTar := filepath.Join(suiteDir, "podman-build-busybox.tar")
	defer os.Remove(rootfsTar)
	if out, err := exec.Command("tar", "-C", *busybox, "-cf", rootfsTar, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	const base = "localhost/berth-it-busybox:latest"
	if out, err := podman("import", "-q", rootfsTar, base); err != nil {
		t.Fatalf("podman import: %v %s", err, out)
	}
	mustEngine(t, root, "tag", "busybox:it", base)
	ctx := buildContext(t, map[string]string{"f.txt": "hi\n", "Dockerfile": "FROM " + base + `
LABEL org.example.a=1 b="two words"
ENV A=1 B="x y"
ENV LEGACY value with spaces
ARG V=3
WORKDIR /srv/app
COPY f.txt ./
RUN echo $V > v.txt
USER 1000:1000
EXPOSE 8080 53/udp
VOLUME /data
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 CMD wget -q localhost:8080 || exit 1
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo child
MAINTAINER someone
ENTRYPOINT ["/bin/sh", "-c"]
CMD echo hi
`})
	if out, err := podman("build", "-q", "--format", "docker", "--network", "none", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096", "-t", "localhost/cmp:1", ctx); err != nil {
		t.Fatalf("podman build: %v %s", err, out)
	}
	pmTar, bTar := filepath.Join(dir, "podman.tar"), filepath.Join(dir, "berth.tar")
	if out, err := podman("save", "--format", "docker-archive", "-o", pmTar, "localhost/cmp:1"); err != nil {
		t.Fatalf("podman save: %v %s", err, out)
	}
	mustBuild(t, root, "-t", "localhost/cmp:1", ctx)
	mustEngine(t, root, "save", "-o", bTar, "localhost/cmp:1")
	pm, b := archivedConfig(t, pmTar), archivedConfig(t, bTar)

	var diffs []string
	differ := func(field string, p, o any) {
		pj, _ := json.Marshal(p)
		oj, _ := json.Marshal(o)
		if !bytes.Equal(pj, oj) {
			diffs = append(diffs, fmt.Sprintf("%s: podman %s, berth %s", field, pj, oj))
		}
	}
	pc, bc := pm["config"].(map[string]any), b["config"].(map[string]any)
	for _, k := range sortedKeys(pc, bc) {
		if isZero(pc[k]) && isZero(bc[k]) {
			continue // false, "" or absent: Docker's config has the same meaning for each
		}
		differ("config."+k, pc[k], bc[k])
	}
	for _, k := range sortedKeys(pm, b) {
		switch k {
		case "config", "history", "rootfs", "created":
		default:
			differ(k, pm[k], b[k])
		}
	}
	differ("layers", len(pm["rootfs"].(map[string]any)["diff_ids"].([]any)), len(b["rootfs"].(map[string]any)["diff_ids"].([]any)))
	// History: the base's own entry (its importer's), and buildah's
	// entry for ARG, which BuildKit does not record, are left out; the
	// entries are compared without buildah's "/bin/sh -c #(nop) " and
	// BuildKit's " # buildkit" marks.
	var ph, bh []map[string]any
	for _, h := range pm["history"].([]any)[1:] {
		if e := h.(map[string]any); !strings.HasPrefix(e["created_by"].(string), "/bin/sh -c #(nop) ARG ") {
			ph = append(ph, e)
		}
	}
	for _, h := range b["history"].([]any)[1:] {
		bh = append(bh, h.(map[string]any))
	}
	differ("history entries", len(ph), len(bh))
	for i := 0; i < len(ph) && i < len(bh); i++ {
		p := strings.TrimPrefix(ph[i]["created_by"].(string), "/bin/sh -c #(nop) ")
		o := strings.TrimSuffix(bh[i]["created_by"].(string), " # buildkit")
		if strings.HasPrefix(o, "RUN ") && !strings.HasPrefix(p, "RUN ") {
			o = strings.TrimPrefix(o, "RUN ") // buildah writes a RUN's command alone
		}
		differ(fmt.Sprintf("history[%d].created_by", i+1), p, o)
		differ(fmt.Sprintf("history[%d].empty_layer", i+1), ph[i]["empty_layer"] == true, bh[i]["empty_layer"] == true)
	}
	if len(ph) < 5 {
		t.Fatalf("podman's history is short: %v", ph)
	}
	want := []string{
		// Docker applies SHELL to CMD's shell form (as BuildKit and the
		// classic builder do); buildah 1.28 keeps /bin/sh -c.
		`config.Cmd: podman ["/bin/sh","-c","echo hi"], berth ["/bin/sh","-ec","echo hi"]`,
		// buildah records its build container's host name; Docker's
		// builders leave it empty.
		`config.Hostname: podman "` + pc["Hostname"].(string) + `", berth null`,
		// buildah labels what it built with its version.
		`config.Labels: podman {"b":"two words","io.buildah.version":` + mustJSON(pc["Labels"].(map[string]any)["io.buildah.version"]) + `,"org.example.a":"1"}, berth {"b":"two words","org.example.a":"1"}`,
		// buildah writes the classic builder's fields, which BuildKit
		// images (Docker 23 and later) no longer carry.
		"container: podman " + mustJSON(pm["container"]) + ", berth null",
		"container_config: podman " + mustJSON(pm["container_config"]) + ", berth null",
		"parent: podman " + mustJSON(pm["parent"]) + ", berth null",
		// buildah names a COPY's source by its content's digest; BuildKit
		// records the instruction as written.
		`history[5].created_by: podman "COPY file:` + strings.TrimPrefix(strings.Fields(ph[4]["created_by"].(string))[4], "file:") + ` in ./ ", berth "COPY f.txt ./"`,
	}
	if strings.Join(diffs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("podman build and berth build differ in:\n%s\n\nexpected only:\n%s", strings.Join(diffs, "\n"), strings.Join(want, "\n"))
	}
}

// archivedConfig is the image config inside a docker-archive tar.
func archivedConfig(t *testing.T, archive string) map[string]any {
	t.Helper()
	files := map[string][]byte{}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	readTar(t, f, func(h *tar.Header, body io.Reader) {
		if strings.HasSuffix(h.Name, ".json") {
			b, _ := io.ReadAll(body)
			files[h.Name] = b
		}
	})
	var manifest []struct{ Config string }
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("%s: manifest.json: %v", archive, err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(files[manifest[0].Config], &cfg); err != nil {
		t.Fatalf("%s: config: %v", archive, err)
	}
	return cfg
}

func sortedKeys(ms ...map[string]any) []string {
	var out []string
	for _, m := range ms {
		for k := range m {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

func isZero(v any) bool { return v == nil || v == false || v == "" }

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestBuildFromScratch: FROM scratch is no layer at all: the image has
// a layer per COPY, a second build is all CACHED with the same ID, and
// an image of metadata only runs with an empty root filesystem.
func TestBuildFromScratch(t *testing.T) {
	root := engineWithBusybox(t)
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY --from=busybox:it /bin/busybox /bin/busybox\n" +
		"COPY --from=busybox:it /bin/sh /bin/sh\nCMD [\"/bin/busybox\", \"echo\", \"from scratch\"]\n"})
	mustBuild(t, root, "-t", "scratch:1", ctx)
	id := mustEngine(t, root, "image", "inspect", "-f", "{{.Id}} {{len .RootFS.Layers}}", "scratch:1")
	if !strings.HasSuffix(id, " 2\n") {
		t.Fatalf("id and layers: %s", id)
	}
	if c := cachedSteps(mustBuild(t, root, "-t", "scratch:1", ctx)); len(c) != 2 {
		t.Fatalf("cached steps of a second build: %v", c)
	}
	if again := mustEngine(t, root, "image", "inspect", "-f", "{{.Id}} {{len .RootFS.Layers}}", "scratch:1"); again != id {
		t.Fatalf("a second build made %s, the first %s", again, id)
	}
	if got := mustEngine(t, root, "run", "--rm", "scratch:1"); got != "from scratch\n" {
		t.Fatalf("run: %q", got)
	}
	empty := buildContext(t, map[string]string{"Dockerfile": "FROM scratch\nLABEL only=metadata\n"})
	mustBuild(t, root, "-t", "scratch:2", empty)
	out := filepath.Join(suiteDir, "scratch-out")
	defer os.RemoveAll(out)
	mustBuild(t, root, "-o", out, empty)
	if ents, err := os.ReadDir(out); err != nil || len(ents) != 0 {
		t.Fatalf("an image of no layers exported %v, %v", ents, err)
	}
	if images := mustEngine(t, root, "images", "--format", "{{.Repository}}:{{.Tag}}"); strings.Contains(images, "<none>") {
		t.Fatalf("images shows the scratch base:\n%s", images)
	}
}

// TestBuildHeredocs: a heredoc that is the whole RUN is a shell script,
// or the program its #! line names; heredocs inside a command line are
// the shell's to read, several at once; <<- strips leading tabs.
func TestBuildHeredocs(t *testing.T) {
	root := engineWithBusybox(t)
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it\nENV WHO=world\n" +
		"RUN <<EOF\nset -e\necho \"script $WHO\" > /script\nEOF\n" +
		"RUN <<EOF\n#!/bin/awk -f\nBEGIN { print \"from awk\" > \"/awk\" }\nEOF\n" +
		"RUN cat <<A > /a && cat <<'B' > /b\nhello $WHO\nA\nraw $WHO\nB\n" +
		"RUN <<-EOF\n\techo tabs > /tabs\n\tEOF\n" +
		"CMD cat /script /awk /a /b /tabs\n"})
	mustBuild(t, root, "-t", "heredoc:1", ctx)
	if got := mustEngine(t, root, "run", "--rm", "heredoc:1"); got != "script world\nfrom awk\nhello world\nraw $WHO\ntabs\n" {
		t.Fatalf("heredoc results: %q", got)
	}
}

// TestBuildCacheFromAnInlineCache: an image built with --cache-to
// type=inline and pushed serves another engine's build of the same
// steps through --cache-from: every step is CACHED, and what the RUN
// made is the first build's.
func TestBuildCacheFromAnInlineCache(t *testing.T) {
	first := engineWithBusybox(t)
	reg := startRegistry(t, nil)
	base, app := reg+"/base:1", reg+"/app:1"
	mustEngine(t, first, "tag", "busybox:it", base)
	mustEngine(t, first, "push", base)
	ctx := buildContext(t, map[string]string{"f.txt": "x\n", "Dockerfile": "FROM " + base + "\nCOPY f.txt /f.txt\nRUN cat /proc/sys/kernel/random/uuid > /made\nENV K=v\nRUN cp /made /copy\nCMD cat /made /copy\n"})
	mustBuild(t, first, "--cache-to", "type=inline", "-t", app, ctx)
	mustEngine(t, first, "push", app)
	made := mustEngine(t, first, "run", "--rm", app)

	second := engineWithBusybox(t)
	out := mustBuild(t, second, "--cache-from", app, "-t", "again:1", ctx)
	if c := cachedSteps(out); len(c) != 3 {
		t.Fatalf("steps served by the inline cache: %v\n%s", c, out)
	}
	if got := mustEngine(t, second, "run", "--rm", "again:1"); got != made {
		t.Fatalf("the second engine's image holds %q, the first's %q", got, made)
	}
	if env := mustEngine(t, second, "image", "inspect", "-f", "{{json .Config.Env}} {{len .RootFS.Layers}}", "again:1"); !strings.Contains(env, `"K=v"] 4`) {
		t.Fatalf("config and layers: %s", env)
	}
	// Without the cache, the steps run.
	if c := cachedSteps(mustBuild(t, engineWithBusybox(t), "-t", "cold:1", ctx)); len(c) != 0 {
		t.Fatalf("a build without --cache-from was served: %v", c)
	}
	if r := engine(t, second, "build", "--cache-to", "type=registry,ref=x", ctx); r.code == 0 || !strings.Contains(r.stderr, "only type=inline") {
		t.Fatalf("--cache-to type=registry: exit %d %s", r.code, r.stderr)
	}
}

// TestBuildAddGitAndSSH: ADD of a git repository (served over git's
// dumb HTTP on loopback) checks out a branch, a subdirectory or a
// commit, without .git unless --keep-git-dir; RUN --mount=type=ssh
// has the agent's socket at SSH_AUTH_SOCK, and nothing of it stays.
func TestBuildAddGitAndSSH(t *testing.T) {
	root := engineWithBusybox(t)
	repo := filepath.Join(suiteDir, "git-repo")
	defer os.RemoveAll(repo)
	work := filepath.Join(repo, "work")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for p, body := range map[string]string{"a.txt": "one\n", "sub/b.txt": "two\n"} {
		os.MkdirAll(filepath.Join(work, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(work, p), []byte(body), 0o644)
	}
	git(repo, "init", "-q", "--bare", "-b", "main", "served.git")
	git(work, "init", "-q", "-b", "main")
	git(work, "add", ".")
	git(work, "commit", "-q", "-m", "first")
	first := git(work, "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(work, "a.txt"), []byte("changed\n"), 0o644)
	git(work, "commit", "-q", "-am", "second")
	git(work, "push", "-q", filepath.Join(repo, "served.git"), "main")
	git(filepath.Join(repo, "served.git"), "update-server-info")
	srv := httptest.NewServer(http.FileServer(http.Dir(repo)))
	defer srv.Close()
	url := srv.URL + "/served.git"

	agent := filepath.Join(suiteDir, "agent.sock")
	l, err := net.Listen("unix", agent)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it\n" +
		"ADD " + url + "#main /src\nADD " + url + "#main:sub /sub\nADD --keep-git-dir=true " + url + "#" + first + " /old\n" +
		"RUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /agent\n" +
		"CMD cat /src/a.txt /sub/b.txt /old/a.txt /agent; test -e /src/.git || echo no-git; test -d /old/.git && echo kept; test -e /run/buildkit/ssh_agent.0 || echo no-socket\n"})
	mustBuild(t, root, "--ssh", "default="+agent, "-t", "git:1", ctx)
	want := "changed\ntwo\none\n/run/buildkit/ssh_agent.0\nno-git\nkept\nno-socket\n"
	if got := mustEngine(t, root, "run", "--rm", "git:1"); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// Without --ssh an optional ssh mount is left out, as BuildKit does;
	// a required one fails the step.
	optional := buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it\nRUN --mount=type=ssh test -z \"$SSH_AUTH_SOCK\"\n"})
	mustBuild(t, root, optional)
	required := buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it\nRUN --mount=type=ssh,required=true true\n"})
	if r := engine(t, root, "build", required); r.code == 0 || !strings.Contains(r.stderr, "ssh default: required, and not given with --ssh") {
		t.Fatalf("without --ssh: exit %d %s", r.code, r.stderr)
	}
	bad := buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it\nADD " + url + "#nosuch /x\n"})
	if r := engine(t, root, "build", bad); r.code == 0 || !strings.Contains(r.stderr, "Dockerfile:2: ADD "+url+"#nosuch /x: "+url+"#nosuch: git fetch") {
		t.Fatalf("a missing ref: exit %d %s", r.code, r.stderr)
	}
}

// TestBuildCopyLink: COPY --link makes its layer apart and places it on
// the stage's image, so a build whose earlier steps changed reuses it
// (CACHED, the same layer) where a plain COPY runs again.
func TestBuildCopyLink(t *testing.T) {
	root := engineWithBusybox(t)
	ctx := buildContext(t, map[string]string{"app/x": "x\n", "app/sub/y": "y\n",
		"Dockerfile": "FROM busybox:it\nRUN echo one > /base\nCOPY --link app/ /app/\nCMD cat /base /app/x /app/sub/y\n"})
	mustBuild(t, root, "-t", "link:1", ctx)
	if got := mustEngine(t, root, "run", "--rm", "link:1"); got != "one\nx\ny\n" {
		t.Fatalf("link:1: %q", got)
	}
	top := func(ref string) string {
		return mustEngine(t, root, "image", "inspect", "-f", "{{len .RootFS.Layers}} {{index .RootFS.Layers 2}}", ref)
	}
	first := top("link:1")
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox:it\nRUN echo two > /base\nCOPY --link app/ /app/\nCMD cat /base /app/x /app/sub/y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustBuild(t, root, "-t", "link:2", ctx)
	if c := cachedSteps(out); len(c) != 1 || !strings.HasSuffix(c[0], "COPY --link app/ /app/") {
		t.Fatalf("cached steps after the base changed: %v\n%s", c, out)
	}
	if got := mustEngine(t, root, "run", "--rm", "link:2"); got != "two\nx\ny\n" {
		t.Fatalf("link:2: %q", got)
	}
	if second := top("link:2"); second != first {
		t.Fatalf("the linked layer is %s, first %s", second, first)
	}
	if hist := mustEngine(t, root, "history", "--no-trunc", "--format", "{{.CreatedBy}}", "link:2"); !strings.Contains(hist, "COPY --link app/ /app/ # buildkit\n") {
		t.Fatalf("history:\n%s", hist)
	}
}

// TestBuildHealthcheckDurations: HEALTHCHECK's four durations and its
// retries are in the image, and a child image keeps them; NONE
// disables an inherited one.
func TestBuildHealthcheckDurations(t *testing.T) {
	root := engineWithBusybox(t)
	mustBuild(t, root, "-t", "health:1", buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it\n" +
		"HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --start-interval=3s --retries=4 CMD wget -q localhost || exit 1\n"}))
	mustBuild(t, root, "-t", "health:2", buildContext(t, map[string]string{"Dockerfile": "FROM health:1\nLABEL child=1\n"}))
	mustBuild(t, root, "-t", "health:3", buildContext(t, map[string]string{"Dockerfile": "FROM health:1\nHEALTHCHECK NONE\n"}))
	want := `{"Interval":5000000000,"Retries":4,"StartInterval":3000000000,"StartPeriod":1000000000,"Test":["CMD-SHELL","wget -q localhost || exit 1"],"Timeout":2000000000}` + "\n"
	for _, ref := range []string{"health:1", "health:2"} {
		if got := mustEngine(t, root, "image", "inspect", "-f", "{{json .Config.Healthcheck}}", ref); got != want {
			t.Fatalf("%s: %s", ref, got)
		}
	}
	if got := mustEngine(t, root, "image", "inspect", "-f", "{{json .Config.Healthcheck.Test}}", "health:3"); got != `["NONE"]`+"\n" {
		t.Fatalf("health:3: %s", got)
	}
}
