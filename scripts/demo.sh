#!/bin/sh
# The demo: a busybox container from the fixture, run by berth-runtime,
# printing what it sees from inside.
set -eu
rt=$(realpath "$1"); rootfs=$(realpath "$2")
work=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
cat > "$work/config.json" <<'EOF'
{
  "ociVersion": "1.2.0",
  "root": {"path": "ROOTFS", "readonly": true},
  "hostname": "berth-demo",
  "process": {
    "args": ["sh", "-c", "echo \"hello from inside berth: hostname=$(hostname) pid=$$ uid=$(id -u)\"; echo processes:; ps; echo \"root is read-only: $(touch /x 2>&1 || true)\""],
    "env": ["PATH=/bin:/sbin:/usr/bin:/usr/sbin"],
    "cwd": "/",
    "user": {"uid": 0, "gid": 0},
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"],
      "effective": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"],
      "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"]
    },
    "noNewPrivileges": true
  },
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
    "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
  }
}
EOF
sed -i "s#ROOTFS#$rootfs#" "$work/config.json"
cd "$work"
"$rt" --root "$work/state" run "demo-$$"
