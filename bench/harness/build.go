package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The build scenarios: one multi-stage Dockerfile built cold, fully
// cached, and after one source file changes; and a COPY of 3,700 small
// files. Each engine builds the same context from the same base image.

const buildDockerfile = `FROM ` + image + ` AS compile
WORKDIR /src
COPY src/ ./
RUN cat *.c > /prog && wc -c /prog
FROM ` + image + `
ENV APP=bench
COPY --from=compile /prog /usr/local/bin/prog
CMD ["cat", "/usr/local/bin/prog"]
`

// buildContextDir writes a context for kind ("multi" or "copy") under
// the work directory, once per peer: peers never share one.
func (e *env) buildContextDir(peer, kind string) (string, error) {
	dir := filepath.Join(e.work, "build-"+kind+"-"+peer)
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		return "", err
	}
	files := map[string]string{"Dockerfile": buildDockerfile}
	if kind == "multi" {
		for i := 0; i < 8; i++ {
			files[fmt.Sprintf("src/f%d.c", i)] = fmt.Sprintf("int f%d(void) { return %d; }\n", i, i)
		}
	} else {
		files["Dockerfile"] = "FROM " + image + "\nCOPY . /app\n"
		for i := 0; i < 3700; i++ {
			files[fmt.Sprintf("src/d%02d/f%d.txt", i%37, i)] = strconv.Itoa(i) + "\n"
		}
	}
	for p, body := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// buildArgv is peer's build command. Docker's CLI 28 needs buildx for
// BuildKit, which Debian 12 does not package: dockerd 20.10's classic
// builder is what runs here (noted in the scenario rows).
func (e *env) buildArgv(peer, tag, dir string, noCache bool) []string {
	cli := e.engineCLI(peer)
	var a []string
	if peer == "docker" {
		a = append(a, "env", "DOCKER_BUILDKIT=0")
	}
	a = append(append(a, cli...), "build", "-q", "-t", tag)
	if noCache {
		a = append(a, "--no-cache")
	}
	if peer == "podman" {
		a = append(a, "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096")
	}
	return append(a, dir)
}

// buildOp times a build of kind for peer: "cold" (--no-cache), "cached"
// (after a first build), "edit" (one source file changed before each) or
// "copy" (3,700 files, --no-cache).
func (e *env) buildOp(peer, kind string) (*op, string) {
	if why := e.skip[peer]; why != "" {
		return nil, why
	}
	if e.engineCLI(peer) == nil {
		return nil, "not an engine"
	}
	ctxKind := "multi"
	if kind == "copy" {
		ctxKind = "copy"
	}
	tag := "localhost/berth-bench-build-" + kind + ":latest"
	var dir string
	o := &op{setup: func() error {
		var err error
		if dir, err = e.buildContextDir(peer, ctxKind); err != nil {
			return err
		}
		if kind == "cached" || kind == "edit" {
			_, err = e.timed("", e.buildArgv(peer, tag, dir, false)...)
		}
		return err
	}}
	o.once = func(i int) (time.Duration, error) {
		if kind == "edit" {
			body := fmt.Sprintf("int f0(void) { return %d; }\n", 1000+i)
			if err := os.WriteFile(filepath.Join(dir, "src", "f0.c"), []byte(body), 0o644); err != nil {
				return 0, err
			}
		}
		return e.timed("", e.buildArgv(peer, tag, dir, kind == "cold" || kind == "copy")...)
	}
	o.teardown = func() {
		e.quiet(append(append([]string(nil), e.engineCLI(peer)...), "rmi", "-f", tag)...)
		_ = os.RemoveAll(dir) // the context, under the work directory removed at the end anyway
	}
	return o, ""
}
