#!/bin/sh
# cgroup v2 checks for a pure-v2 host (the device host): limits land in the
# v2 files, pause uses cgroup.freeze, stats and OOM events work, and the
# smallest memory limit for /bin/true. Needs root, berth-runtime and a
# busybox rootfs beside this script (make test-cgroup2-remote prepares it).
# Exit status: the number of failed checks.
set -u
d=$(cd "$(dirname "$0")" && pwd)
rt="$d/berth-runtime"
root=$(mktemp -d /tmp/berth-v2.XXXXXX)
state="$root/state"
fails=0
cg=/sys/fs/cgroup
[ -f $cg/cgroup.controllers ] || { echo "not a cgroup v2 host"; exit 100; }

bundle() { # bundle NAME RESOURCES-JSON ARGS-JSON
	mkdir -p "$root/$1"
	cat > "$root/$1/config.json" <<EOF2
{"ociVersion":"1.2.0","root":{"path":"$d/rootfs","readonly":true},
 "process":{"args":$3,"env":["PATH=/bin"],"cwd":"/","user":{"uid":0,"gid":0}},
 "mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/dev","type":"tmpfs","source":"tmpfs"}],
 "linux":{"cgroupsPath":"/berth-v2check/$1","resources":$2,
  "namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}]}}
EOF2
}
check() { # check DESCRIPTION COMMAND...
	if sh -c "$2" >/dev/null 2>&1; then echo "PASS $1"; else echo "FAIL $1"; fails=$((fails+1)); fi
}
file() { cat "$cg/berth-v2check/$1/$2" 2>/dev/null; }

bundle limits '{"memory":{"limit":33554432},"pids":{"limit":20},"cpu":{"shares":1024,"quota":50000,"period":100000}}' '["sleep","100"]'
"$rt" --root "$state" run -d --bundle "$root/limits" limits
check "memory.max = 32 MiB" "[ \"$(file limits memory.max)\" = 33554432 ]"
check "pids.max = 20" "[ \"$(file limits pids.max)\" = 20 ]"
check "cpu.max = 50000 100000" "[ \"$(file limits cpu.max)\" = '50000 100000' ]"
check "cpu.weight from 1024 shares = 39" "[ \"$(file limits cpu.weight)\" = 39 ]"
pid=$("$rt" --root "$state" state limits | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
check "init ($pid) is in its cgroup" "[ -n '$pid' ] && grep -qx '$pid' $cg/berth-v2check/limits/cgroup.procs"
"$rt" --root "$state" pause limits
check "pause: status paused, cgroup.freeze 1" "$rt --root $state state limits | grep -q '\"paused\"' && [ \"$(file limits cgroup.freeze)\" = 1 ]"
"$rt" --root "$state" resume limits
check "resume: running" "$rt --root $state state limits | grep -q '\"running\"'"
"$rt" --root "$state" update --memory 64m limits
check "update: memory.max = 64 MiB" "[ \"$(file limits memory.max)\" = 67108864 ]"
check "events --stats: memory usage and pids" "$rt --root $state events --stats limits | grep -q '\"current\":1'"
"$rt" --root "$state" delete --force limits
check "delete removes the cgroup" "[ ! -d $cg/berth-v2check/limits ]"

bundle oom '{"memory":{"limit":16777216,"swap":16777216}}' '["tail","/dev/zero"]'
"$rt" --root "$state" create --bundle "$root/oom" oom
"$rt" --root "$state" events --interval 1s oom > "$root/oom.events" 2>&1 &
ev=$!
"$rt" --root "$state" start oom
wait $ev
check "OOM kill reported as an event" "grep -q '\"type\":\"oom\"' $root/oom.events"
"$rt" --root "$state" delete --force oom

for kib in 64 128 160 256 512 1024 2048 4096 8192; do
	bundle min "{\"memory\":{\"limit\":$((kib*1024)),\"swap\":$((kib*1024))}}" '["/bin/true"]'
	if "$rt" --root "$state" run --bundle "$root/min" "min$kib" >/dev/null 2>&1; then
		echo "INFO smallest memory limit that starts /bin/true: $kib KiB"; break
	fi
done
rmdir $cg/berth-v2check 2>/dev/null
rm -rf "$root"
echo "failed: $fails"
exit $fails
