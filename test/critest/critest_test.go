// Package critest runs cri-tools' CRI validation suite (critest)
// against `berth cri`, with the images it asks for built from the
// busybox fixture and served from a loopback registry that berth cri
// takes as the upstream registries' mirror. `make conformance` runs it; it prints the totals
// and each failed spec.
package critest

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

var (
	berthBin   = flag.String("berth", "", "berth binary (berth-cri beside it)")
	critestBin = flag.String("critest", "", "critest binary")
	busybox    = flag.String("busybox", "", "busybox rootfs fixture")
	focus      = flag.String("focus", "", "run only the specs this regexp names")
	benchmark  = flag.Bool("benchmark", false, "run critest's benchmarks against berth cri and containerd instead of its validation")
	cniPlugins = flag.String("cni-plugins", "", "the CNI plugins both runtimes put the benchmarks' pods on (scripts/cni-plugins.sh)")
	rounds     = flag.Int("rounds", 2, "benchmark rounds, berth cri and containerd in turn")
	samples    = flag.Int("samples", 10, "pods and containers per benchmark round")
	shell      = flag.String("shell", "", "a root with a busybox sh that looks commands up on PATH, and its libraries (scripts/busybox-shell.sh)")
)

// skipped are the specs left out, each with why.
var skipped = map[string]string{
	"AppArmor":            "this host has no AppArmor",
	"SELinux":             "this host has no SELinux",
	"NRI":                 "berth has no NRI plugin interface",
	"Feature:ImageVolume": "image volumes (mounts of an image's content) are not built",
	"digest":              "the digest-pinned test image is published upstream only; a rebuild has another digest",
}

// nginxMaster and nginxWorker stand in for nginx in the images critest
// runs as web servers: busybox's httpd on PORT with a page, PID 1 whose
// command line says "master process" (the file's name does), and a
// process named nginx whose pid is in /var/run/nginx.pid.
const (
	nginxMaster = `#!/bin/sh
mkdir -p /usr/share/nginx/html /var/run
[ -f /usr/share/nginx/html/index.html ] || echo 'Welcome to nginx!' > /usr/share/nginx/html/index.html
httpd -p "${PORT:-80}" -h /usr/share/nginx/html
/usr/sbin/nginx &
echo $! > /var/run/nginx.pid
echo "${SERVER:-nginx} started"
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
`
	nginxWorker = `#!/bin/sh
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
`
	pgrep = `#!/bin/sh
found=1
for p in /proc/[0-9]*; do
	[ "$(cat "$p/comm" 2>/dev/null)" = "$1" ] && { echo "${p#/proc/}"; found=0; }
done
exit $found
`
	// ipcs -m lists the IPC namespace's shared memory segments.
	ipcs = `#!/bin/sh
cat /proc/sysvipc/shm
`
	// nnp prints the effective uid of a setuid-root program: root's
	// unless no_new_privs holds.
	nnpSource = `#include <stdio.h>
#include <unistd.h>
int main(void) { printf("Effective uid: %d\n", (int)geteuid()); return 0; }
`
)

func berth(t *testing.T, root string, args ...string) string {
	t.Helper()
	cmd := exec.Command(*berthBin, append([]string{"--root", root, "--runroot", filepath.Join(root, "run")}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("berth %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// build builds dockerfile (with files) as ref and pushes it.
func build(t *testing.T, root, ref, dockerfile string, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	files["Dockerfile"] = dockerfile
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	berth(t, root, "build", "-q", "-t", ref, dir)
	berth(t, root, "push", ref)
}

// prepare makes a storage root for berth cri and a loopback registry
// with the images critest asks for, under their upstream paths (berth
// cri and containerd take it as the upstream registries' mirror); both
// go when the test ends.
func prepare(t *testing.T) (root, reg string) {
	if *berthBin == "" || *critestBin == "" || *busybox == "" || *shell == "" {
		t.Fatal("run with -berth, -critest, -busybox and -shell (make conformance does)")
	}
	root, err := os.MkdirTemp("", "berth-critest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// What critest left (it removes its pods, but a failed spec may
		// not), and the root's default bridge and NAT table, which
		// outlive containers, go with the root.
		for _, id := range strings.Fields(berth(t, root, "ps", "-aq")) {
			berth(t, root, "rm", "-f", id)
		}
		for i := 0; i < 100; i++ {
			if m, _ := filepath.Glob(filepath.Join(root, "networks", "*", "endpoints", "*.json")); len(m) == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		berth(t, root, "network", "prune", "-f")
		os.RemoveAll(root)
	})
	os.Chmod(root, 0o755)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	reg = strings.TrimPrefix(srv.URL, "http://")

	// The images, under the names critest asks for behind the prefix.
	tar := filepath.Join(root, "busybox.tar")
	if out, err := exec.Command("tar", "-C", *busybox, "--numeric-owner", "-cf", tar, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar the fixture: %v %s", err, out)
	}
	berth(t, root, "import", tar, "fixture:1")
	// Served under their upstream paths: berth cri mirrors the upstream
	// registries on this one, and keeps the images under their own
	// names, which critest checks (its --registry-prefix would pull
	// PREFIX/PATH:latest and then look for the upstream name).
	base := reg + "/e2e-test-images/busybox:1.29-2"
	// busybox's applets as the upstream image has them (hard links: a
	// masked /bin/ls must not mask busybox), and pgrep and ipcs, which
	// Debian's busybox lacks, as scripts. Its sh, as the upstream's,
	// executes what it finds on PATH (busybox-static's runs its own ls
	// without looking, so a masked /bin/ls would go unnoticed).
	baseFiles := map[string]string{"pgrep": pgrep, "ipcs": ipcs}
	shellCopies := ""
	if err := filepath.WalkDir(*shell, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(*shell, p) // p is under the walked root
		name := fmt.Sprintf("shell%d", len(baseFiles))
		baseFiles[name] = string(b)
		shellCopies += "COPY " + name + " /" + rel + "\n"
		return err
	}); err != nil || !strings.Contains(shellCopies, " /bin/sh\n") {
		t.Fatalf("the shell at %s: %v", *shell, err)
	}
	build(t, root, base, "FROM fixture:1\nCOPY pgrep ipcs /usr/bin/\nRUN cd /bin && for f in *; do [ -L $f ] && [ $(readlink $f) = busybox ] && ln -f busybox $f; done; /bin/busybox --install && echo 'www-data:x:33:33:www-data:/var/www:/bin/false' >> /etc/passwd && echo 'www-data:x:33:' >> /etc/group\n"+shellCopies+"CMD [\"sh\"]\n",
		baseFiles)
	build(t, root, reg+"/pause:3.9", "FROM "+base+"\nCMD [\"sleep\", \"infinity\"]\n", map[string]string{})
	web := "FROM " + base + "\nCOPY [\"master\", \"/usr/sbin/nginx: master process\"]\nCOPY worker /usr/sbin/nginx\nEXPOSE 80\nCMD [\"/usr/sbin/nginx: master process\"]\n"
	webFiles := func() map[string]string { return map[string]string{"master": nginxMaster, "worker": nginxWorker} }
	build(t, root, reg+"/e2e-test-images/nginx:1.14-2", web, webFiles())
	build(t, root, reg+"/e2e-test-images/httpd:2.4.39-4", web+"ENV SERVER=httpd\n", webFiles())
	build(t, root, reg+"/k8s-staging-cri-tools/hostnet-nginx-amd64:latest", web+"ENV PORT=12003\n", webFiles())
	nnp := filepath.Join(root, "nnp")
	if err := os.WriteFile(nnp+".c", []byte(nnpSource), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-static", "-O2", "-o", nnp, nnp+".c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v %s", err, out)
	}
	nnpBin, err := os.ReadFile(nnp)
	if err != nil {
		t.Fatal(err)
	}
	build(t, root, reg+"/e2e-test-images/nonewprivs:1.3", "FROM "+base+"\nCOPY nnp /usr/local/bin/nnp\nRUN chmod 4755 /usr/local/bin/nnp\nCMD [\"/usr/local/bin/nnp\"]\n",
		map[string]string{"nnp": string(nnpBin)})
	for name, user := range map[string]string{"test-image-user-uid": "1002", "test-image-user-username": "www-data",
		"test-image-user-uid-group": "1003:1004", "test-image-user-username-group": "www-data:1004"} {
		build(t, root, reg+"/k8s-staging-cri-tools/"+name+":latest", "FROM "+base+"\nUSER "+user+"\n", map[string]string{})
	}
	build(t, root, reg+"/k8s-staging-cri-tools/test-image-predefined-group:latest", "FROM "+base+
		"\nRUN echo 'default-user:x:1000:1000::/home/default-user:/bin/sh' >> /etc/passwd && echo 'default-user:x:1000:' >> /etc/group && echo 'group-defined-in-image:x:50000:default-user' >> /etc/group\nUSER 1000\n", map[string]string{})
	for _, name := range []string{"test-image-1", "test-image-2", "test-image-3", "test-image-latest"} {
		build(t, root, reg+"/k8s-staging-cri-tools/"+name+":latest", "FROM "+base+"\nADD "+name+" "+name+"\n", map[string]string{name: ""})
	}
	for _, tag := range []string{"test", "all"} {
		build(t, root, reg+"/k8s-staging-cri-tools/test-image-tag:"+tag, "FROM "+base+"\nADD "+tag+" "+tag+"\n", map[string]string{tag: ""})
	}
	same := reg + "/k8s-staging-cri-tools/test-image-tags:1"
	build(t, root, same, "FROM "+base+"\nADD same-image same-image\n", map[string]string{"same-image": ""})
	for _, tag := range []string{"2", "3"} {
		berth(t, root, "tag", same, reg+"/k8s-staging-cri-tools/test-image-tags:"+tag)
		berth(t, root, "push", reg+"/k8s-staging-cri-tools/test-image-tags:"+tag)
	}
	// critest pulls what it needs: the store starts without them.
	for _, line := range strings.Split(strings.TrimSpace(berth(t, root, "images", "--format", "{{.Repository}}:{{.Tag}}")), "\n") {
		if strings.HasPrefix(line, reg+"/") {
			berth(t, root, "rmi", line)
		}
	}

	return root, reg
}

// startCRI runs berth cri over root, with reg as the upstream
// registries' mirror and extra flags; it stops when the test ends.
func startCRI(t *testing.T, root, reg string, extra ...string) (sock string) {
	sock = filepath.Join(root, "cri.sock")
	var mirrors []string
	for _, upstream := range []string{"gcr.io", "registry.k8s.io", "k8s.gcr.io"} {
		mirrors = append(mirrors, "--registry-mirror", upstream+"="+reg)
	}
	cri := exec.Command(*berthBin, append(append(append([]string{"--root", root, "--runroot", filepath.Join(root, "run")}, mirrors...), "cri", "--listen", sock), extra...)...)
	var criLog bytes.Buffer
	cri.Stdout, cri.Stderr = &criLog, &criLog
	if err := cri.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cri.Process.Signal(syscall.SIGTERM) // ours, by PID
		_ = cri.Wait()                          // stopped by us
	})
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if i == 300 {
			t.Fatalf("berth cri did not listen: %s", criLog.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return sock
}

func TestCRIValidation(t *testing.T) {
	if *benchmark {
		t.Skip("-benchmark: the benchmarks only")
	}
	root, reg := prepare(t)
	sock := startCRI(t, root, reg)
	var skip []string
	for k := range skipped {
		skip = append(skip, regexp.QuoteMeta(k))
	}
	args := []string{"-runtime-endpoint", "unix://" + sock, "-image-endpoint", "unix://" + sock,
		"-ginkgo.no-color", "-ginkgo.skip", strings.Join(skip, "|")}
	if *focus != "" {
		args = append(args, "-ginkgo.focus", *focus)
	}
	cmd := exec.Command(*critestBin, args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, os.Stdout), io.MultiWriter(&out, os.Stderr)
	runErr := cmd.Run()
	fmt.Println("\n== critest against berth cri: skipped, with why:")
	for k, why := range skipped {
		fmt.Printf("  %s: %s\n", k, why)
	}
	fmt.Println("== failed specs:")
	for _, m := range regexp.MustCompile(`(?m)^\s*\[FAIL\] (.*)$`).FindAllStringSubmatch(out.String(), -1) {
		fmt.Println("  " + m[1])
	}
	if m := regexp.MustCompile(`(?m)^Ran \d+ of \d+ Specs.*$`).FindString(out.String()); m != "" {
		fmt.Println("== " + m)
	}
	if m := regexp.MustCompile(`(?m)^(SUCCESS|FAIL)! -- .*$`).FindString(out.String()); m != "" {
		fmt.Println("== " + m)
	}
	if runErr != nil {
		t.Errorf("critest: %v", runErr)
	}
}
