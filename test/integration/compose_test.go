package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// compose runs docker compose against the socket, in project dir.
func compose(t *testing.T, sock, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(*composeBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+filepath.Join(filepath.Dir(sock), "docker-config"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("docker compose %v: %v\n%s", args, err, out.String())
		}
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill() // ours, by PID: a hung client fails the test
		<-done
		t.Fatalf("docker compose %v hung:\n%s", args, out.String())
	}
	return out.String()
}

// TestComposeThreeServices: docker compose v5.6.0 through berth serve
// brings up a project with a build, a named volume, a user network, a
// healthcheck and depends_on: service_healthy; the services reach each
// other by name and the published port answers; ps and logs show them;
// down -v removes the project's containers, network and volume and
// nothing else.
func TestComposeThreeServices(t *testing.T) {
	root := engineWithBusybox(t)
	sock, _ := apiServer(t, root)
	port := freePort(t)
	dir := buildContext(t, map[string]string{
		"web/Dockerfile": "FROM busybox:it\nRUN mkdir /www && echo hello from web > /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
		"compose.yaml": `services:
  db:
    image: busybox:it
    command: ["sh", "-c", "echo db up; sleep 1; touch /data/ready; exec sleep 300"]
    volumes: ["dbdata:/data"]
    networks: [back]
    healthcheck:
      test: ["CMD", "test", "-f", "/data/ready"]
      interval: 300ms
      retries: 20
  web:
    build: ./web
    depends_on:
      db: {condition: service_healthy}
    networks: [back]
    ports: ["127.0.0.1:` + strconv.Itoa(port) + `:8080"]
  client:
    image: busybox:it
    depends_on: [web]
    networks: [back]
    command: ["sh", "-c", "until wget -qO- http://web:8080/; do sleep 0.2; done; test -f /data/ready || echo no db volume here; exec sleep 300"]
volumes:
  dbdata:
networks:
  back:
`})
	// What is not the project's must stay.
	mustEngine(t, root, "network", "create", "keepnet")
	mustEngine(t, root, "volume", "create", "keepvol")
	mustEngine(t, root, "run", "-d", "--name", "bystander", "--network", "keepnet", "busybox:it", "sleep", "300")

	up := compose(t, sock, dir, "-p", "proj", "up", "-d")
	// up returns once db is healthy and the rest started.
	if !strings.Contains(up, "Healthy") {
		t.Fatalf("up did not wait for db's health:\n%s", up)
	}
	if got := mustEngine(t, root, "inspect", "-f", "{{.State.Health.Status}}", "proj-db-1"); got != "healthy\n" {
		t.Fatalf("db's health after up: %q", got)
	}
	if body := getWhenUp(t, port); body != "hello from web\n" {
		t.Fatalf("the published port: %q", body)
	}
	var logs string
	waitFor(t, func() bool {
		logs = compose(t, sock, dir, "-p", "proj", "logs", "--no-color")
		return strings.Contains(logs, "hello from web")
	})
	// compose pads the names to the longest one it has printed.
	if !regexp.MustCompile(`db-1 +\| db up`).MatchString(logs) || !regexp.MustCompile(`client-1 +\| hello from web`).MatchString(logs) ||
		!strings.Contains(logs, "no db volume here") {
		t.Fatalf("logs:\n%s", logs)
	}
	var services []string
	for _, line := range strings.Split(strings.TrimSpace(compose(t, sock, dir, "-p", "proj", "ps", "--format", "json")), "\n") {
		var s struct{ Service, State, Health string }
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("ps --format json: %v: %s", err, line)
		}
		services = append(services, s.Service+" "+s.State+" "+s.Health)
	}
	if got := strings.Join(services, ","); got != "client running ,db running healthy,web running " {
		t.Fatalf("ps: %s", got)
	}

	compose(t, sock, dir, "-p", "proj", "down", "-v", "-t", "1")
	if out := mustEngine(t, root, "ps", "-a", "--format", "{{.Names}}"); out != "bystander\n" {
		t.Fatalf("containers after down: %q", out)
	}
	if out := mustEngine(t, root, "network", "ls", "--format", "{{.Name}}"); strings.Contains(out, "proj") || !strings.Contains(out, "keepnet") || !strings.Contains(out, "bridge") {
		t.Fatalf("networks after down: %q", out)
	}
	if out := mustEngine(t, root, "volume", "ls", "--format", "{{.Name}}"); out != "keepvol\n" {
		t.Fatalf("volumes after down: %q", out)
	}
	mustEngine(t, root, "rm", "-f", "bystander")
	mustEngine(t, root, "volume", "rm", "keepvol")
	mustEngine(t, root, "rmi", "proj-web")
}
