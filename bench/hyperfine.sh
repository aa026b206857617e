#!/bin/bash
# Runtime lifecycle benchmark: `run` of a /bin/true bundle (create, start,
# wait, delete) for berth-runtime and runc side by side in one hyperfine
# invocation, plus the kernel floor (unshare with the same namespaces).
# crun refuses this hybrid cgroup host, so its column says so.
# usage: bench/run.sh BERTH_RUNTIME BUSYBOX_ROOTFS
set -euo pipefail
berth=$(realpath "$1"); rootfs=$(realpath "$2")
runs=${BENCH_RUNS:-200}
results=$(realpath -m "${BENCH_RESULTS:-$(dirname "$0")/results}")
# State roots on the same filesystem as runc's default (/run/runc).
work=$(mktemp -d /run/berth-bench.XXXXXX)
mkdir -p "$results"
trap 'rm -rf "$work"' EXIT

cat > "$work/config.json" <<EOF
{
  "ociVersion": "1.2.0",
  "root": {"path": "$rootfs", "readonly": true},
  "process": {"args": ["/bin/true"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0},
    "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}
  ],
  "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
    "maskedPaths": ["/proc/kcore", "/proc/keys"], "readonlyPaths": ["/proc/sys"]}
}
EOF
cd "$work"
peers=(-n berth "$berth --root $work/berth run b")
if command -v runc >/dev/null; then
  peers+=(-n runc "runc --root $work/runc run r")
else
  echo "runc: not installed (apt-get install runc)"
fi
echo "crun: skipped — refuses this hybrid cgroup host (v1 controllers + cgroup2 at /sys/fs/cgroup/unified)"
peers+=(-n "unshare floor" "unshare --pid --net --ipc --uts --mount --cgroup --fork /bin/true")
hyperfine -N --warmup 20 --runs "$runs" --export-json "$results/lifecycle.json" --export-markdown "$results/lifecycle.md" "${peers[@]}"
python3 - "$results/lifecycle.json" <<'PY' || true
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
b = r["berth"]
print("\n| scenario | berth median | peer | peer median | berth/peer | berth spread (min-max) |")
print("|---|---|---|---|---|---|")
for name, x in r.items():
    if name != "berth":
        print(f"| run /bin/true | {b['median']*1e3:.2f} ms | {name} | {x['median']*1e3:.2f} ms | {b['median']/x['median']:.2f} | {b['min']*1e3:.2f}-{b['max']*1e3:.2f} ms |")
PY
