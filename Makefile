# berth — see README.md. Targets install what they need themselves.
GO        ?= go
PREFIX    ?= /usr/local
BIN       := bin
FIXTURE   := test/fixtures/busybox
APT_PKGS  := busybox-static gcc libc6-dev pkg-config libseccomp-dev podman skopeo iproute2 git docker.io containerd runc uidmap slirp4netns fuse-overlayfs
BENCH_PKGS := runc hyperfine
export GOFLAGS := -buildvcs=false
# encoding/json on the v2 engine halves the cold decode of config.json,
# which every container start pays twice (runtime and init): ~0.4 ms of 4.
export GOEXPERIMENT := jsonv2

.PHONY: compose crictl cni-plugins fuzz all build test unit integration install bench bench-hyperfine bench-device test-cgroup2-remote demo deps fixture vet fmt clean conformance

all: build

# Debian packages the build and the tests need; quiet when already there.
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

# Static: no dynamic loader on each exec (the runtime and its init stage
# both start per container), and the binaries run on any host as they are.
STATIC := -tags netgo,osusergo -ldflags '-s -w -linkmode external -extldflags "-static"'

# berth-monitor, a monitor's idle stage, is pure Go and small on purpose.
build:
	$(GO) build $(STATIC) -o $(BIN)/berth-runtime ./cmd/berth-runtime
	$(GO) build $(STATIC) -o $(BIN)/berth ./cmd/berth
	$(GO) build $(STATIC) -o $(BIN)/berth-cri ./cmd/berth-cri
	CGO_ENABLED=0 $(GO) build -ldflags '-s -w' -o $(BIN)/berth-monitor ./cmd/berth-monitor

fixture: deps
	@[ -x $(FIXTURE)/rootfs/bin/busybox ] || scripts/mkbusybox.sh $(FIXTURE)/rootfs

vet:
	@test -z "$$(gofmt -l cmd internal test)" || { gofmt -l cmd internal test; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./internal/... ./cmd/...

integration: build fixture compose crictl cni-plugins
	$(GO) test -count=1 -p 1 -timeout 15m ./test/integration/ ./test/engine/ -args -berth-runtime=$(CURDIR)/$(BIN)/berth-runtime -berth=$(CURDIR)/$(BIN)/berth -busybox=$(CURDIR)/$(FIXTURE)/rootfs -compose=$(CURDIR)/$(BIN)/docker-compose -crictl=$(CURDIR)/$(BIN)/crictl -cni-plugins=$(CURDIR)/$(BIN)/cni

# The CNI plugins (bridge, host-local, loopback, portmap) the CRI tests
# put pods on, as a kubelet's node has them.
cni-plugins:
	@scripts/cni-plugins.sh $(CURDIR)/$(BIN)/cni

# crictl (cri-tools), the client the CRI tests drive berth cri with.
crictl:
	@scripts/cri-tools.sh crictl $(CURDIR)/$(BIN)/crictl

# docker compose, a client the API tests drive berth serve with.
compose:
	@scripts/docker-compose.sh $(CURDIR)/$(BIN)/docker-compose

# Unit tests (with the race detector), gofmt and vet, then the root-only
# integration suite, which ends with a leak check.
test: deps vet unit integration

install: build
	install -D -m 0755 $(BIN)/berth-runtime $(DESTDIR)$(PREFIX)/bin/berth-runtime
	install -D -m 0755 $(BIN)/berth $(DESTDIR)$(PREFIX)/bin/berth
	install -D -m 0755 $(BIN)/berth-monitor $(DESTDIR)$(PREFIX)/bin/berth-monitor

# Installs what it needs, builds, makes the busybox fixture, and runs a
# container that prints from inside.
demo: deps build fixture
	@scripts/demo.sh $(BIN)/berth $(FIXTURE)/rootfs

BENCH_PEERS := runc crun podman hyperfine skopeo docker.io iperf3 containerd

# Installs the peers, then runs every scenario for berth and each peer,
# interleaved, and prints one table (bench/README.md). Never fails the build.
bench: build fixture
	@missing=""; for p in $(BENCH_PEERS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || true; fi
	@$(GO) build -o $(BIN)/bench-harness ./bench/harness
	-@$(BIN)/bench-harness -berth-runtime $(BIN)/berth-runtime -rootfs $(FIXTURE)/rootfs -runs $(or $(BENCH_RUNS),50)
	@# critest's pod and container lifecycle benchmarks, berth cri beside containerd 1.6.
	@scripts/cri-tools.sh critest $(CURDIR)/$(BIN)/critest && scripts/busybox-shell.sh $(CURDIR)/$(BIN)/critest-sh && scripts/cni-plugins.sh $(CURDIR)/$(BIN)/cni
	-@$(GO) test -v -count=1 -timeout 20m -run TestCRIBenchmark ./test/critest/ -args -benchmark -berth=$(CURDIR)/$(BIN)/berth -critest=$(CURDIR)/$(BIN)/critest -busybox=$(CURDIR)/$(FIXTURE)/rootfs -shell=$(CURDIR)/$(BIN)/critest-sh -cni-plugins=$(CURDIR)/$(BIN)/cni -rounds 3 -samples 10 | grep -E '^(\||critest)'

# The issue-2 style cross-check: hyperfine, run of /bin/true, berth vs runc.
bench-hyperfine: build fixture
	-@bench/hyperfine.sh $(BIN)/berth-runtime $(FIXTURE)/rootfs

# Prepares .bench-device/ (static binaries, the busybox rootfs, Debian's
# runc and crun unpacked by dpkg -x) for the device host; run it there with
# `sh .bench-device/run.sh` through the device tool (see bench/README.md).
bench-device: build fixture
	@bench/device-prepare.sh $(BIN) $(FIXTURE)/rootfs .bench-device

# Prepares .cgroup2-remote/ (static berth-runtime, busybox rootfs, the
# check script) for a pure cgroup v2 host such as the device host, and
# prints what to run there.
test-cgroup2-remote: build fixture
	@rm -rf .cgroup2-remote && mkdir -p .cgroup2-remote
	@cp $(BIN)/berth-runtime $(BIN)/berth test/cgroup2/check.sh test/cgroup2/engine.sh .cgroup2-remote/ && cp -a $(FIXTURE)/rootfs .cgroup2-remote/rootfs
	@tar -C $(FIXTURE)/rootfs --numeric-owner -cf .cgroup2-remote/rootfs.tar . && cp $(FIXTURE)/rootfs/bin/busybox .cgroup2-remote/
	@echo "prepared .cgroup2-remote; on a cgroup v2 host, as root: sh .cgroup2-remote/check.sh (the runtime) and sh .cgroup2-remote/engine.sh (the engine) (with the device tool: carry .cgroup2-remote)"

# The OCI runtime-tools validation suite against berth-runtime (needs root).
conformance: build fixture
	../shared/conformance/oci-validation.sh $(BIN)/berth-runtime
	scripts/runc-bats.sh $(BIN)/berth-runtime
	scripts/docker-py-conformance.sh $(BIN)/berth $(FIXTURE)/rootfs
	scripts/cri-tools.sh critest $(CURDIR)/$(BIN)/critest
	scripts/busybox-shell.sh $(CURDIR)/$(BIN)/critest-sh
	-$(GO) test -v -count=1 -timeout 30m ./test/critest/ -args -berth=$(CURDIR)/$(BIN)/berth -critest=$(CURDIR)/$(BIN)/critest -busybox=$(CURDIR)/$(FIXTURE)/rootfs -shell=$(CURDIR)/$(BIN)/critest-sh | grep -E '^(==|  )'


# Fuzz targets, FUZZTIME each. The fuzzer's cache and temp files go to
# /dev/shm: on this disk (ext4 with discard) they cut it to a few execs
# a second.
FUZZTIME ?= 30s
FUZZ_TARGETS = FuzzPlanDecode:./internal/nsenter FuzzParse:./internal/image/reference FuzzLoadManifest:./internal/image FuzzUnpack:./internal/snapshot FuzzLoadSpec:./internal/runtime FuzzProfile:./internal/seccomp/profile FuzzParsePublish:./internal/network FuzzParseSubnet:./internal/network FuzzDockerfile:./internal/build
fuzz:
	@set -e; d=/dev/shm/berth-fuzz; mkdir -p $$d; \
	for t in $(FUZZ_TARGETS); do \
		echo "== $${t%%:*}"; \
		TMPDIR=$$d GOCACHE=$$d/cache go test -run XXX -fuzz "^$${t%%:*}\$$" -fuzztime $(FUZZTIME) $${t#*:} 2>&1 | tail -3; \
	done

clean:
	rm -rf $(BIN) test/fixtures
