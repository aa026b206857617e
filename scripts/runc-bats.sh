#!/usr/bin/env bash
# runc's own integration suite (its bats tests at v1.1.5, Debian's runc)
# against berth-runtime, installed as a drop-in is: under the name runc
# (a hard link; the suite reads the program's name in -h and -v), and
# beside runc itself for the comparison. make conformance runs it.
# usage: runc-bats.sh BERTH_RUNTIME
set -u
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")/.." && pwd)
suite=$here/../shared/conformance/runc-bats
work=${RUNC_BATS_DIR:-/tmp/runc-bats}
[ -d "$work/runc-1.1.5/tests/integration" ] || "$suite/setup.sh" || exit 1
compat=$(dirname "$bin")/runc-compat
mkdir -p "$compat" && ln -f "$bin" "$compat/runc"
# The suite makes plain directories on /sys/fs/cgroup's tmpfs for the
# controllers this hybrid host does not mount (hugetlb, net_cls, ...);
# left there, they mislead Podman's cgroupfs manager. They go at the end.
before=$(ls /sys/fs/cgroup)
"$suite/run.sh" /usr/sbin/runc runc
"$suite/run.sh" "$compat/runc" berth
for d in /sys/fs/cgroup/*; do
	n=$(basename "$d")
	if ! mountpoint -q "$d" && ! grep -qx "$n" <<<"$before"; then rm -rf "$d"; fi
done
python3 "$suite/summarize.py" "$work/results/runc" "$work/results/berth" --diff
