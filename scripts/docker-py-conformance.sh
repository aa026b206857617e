#!/usr/bin/env bash
# docker-py 7.1.0's own integration suite against `berth serve`, in a
# storage root of its own that it removes: make conformance runs it.
# usage: docker-py-conformance.sh BERTH BUSYBOX_ROOTFS [PYTEST-ARGS...]
set -u
berth=$(realpath "$1"); rootfs=$(realpath "$2"); shift 2
work=$(mktemp -d /tmp/berth-docker-py.XXXXXX)
# The engine's /berth parent cgroups stay, as Docker's /docker does; the
# ones this run makes go at its end.
made=""; for d in /sys/fs/cgroup/*/berth /sys/fs/cgroup/berth; do [ -d "$d" ] || made="$made $d"; done
b() { "$berth" --root "$work/storage" --runroot "$work/run" "$@"; }
# The suite's TEST_IMG is alpine:3.10; no Docker Hub here, so busybox
# goes by its name, with what of alpine's the tests use: the postgres
# user and /var/opt.
cp -a "$rootfs" "$work/rootfs"
echo 'postgres:x:70:70:postgres:/var/lib/postgresql:/bin/sh' >> "$work/rootfs/etc/passwd"
echo 'postgres:x:70:' >> "$work/rootfs/etc/group"
mkdir -p "$work/rootfs/var/opt"
tar -C "$work/rootfs" --numeric-owner -cf "$work/rootfs.tar" .
b import -c 'CMD ["sh"]' "$work/rootfs.tar" alpine:3.10 >/dev/null
b tag alpine:3.10 busybox:latest
b tag alpine:3.10 alpine:latest
# The server itself in the background (not through b, whose subshell's
# PID $! would be): it is stopped by its PID.
"$berth" --root "$work/storage" --runroot "$work/run" serve -H "unix://$work/api.sock" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do [ -S "$work/api.sock" ] && break; sleep 0.05; done
# Some tests pull from Docker Hub, which is not reachable here: the run is
# bounded.
timeout "${DOCKER_PY_TIMEOUT:-900}" ../shared/conformance/docker-py-suite.sh "unix://$work/api.sock" "$@"
kill "$server"; wait "$server" 2>/dev/null
for id in $(b ps -aq); do b rm -f "$id" >/dev/null; done
# A --rm container's monitor may still be tearing it down (the suite's
# last tests): its endpoint would keep prune from removing the default
# bridge. Wait for the endpoints to go first.
for _ in $(seq 100); do
	[ -z "$(b ps -aq)" ] && [ -z "$(find "$work/storage/networks" -path '*/endpoints/*.json' 2>/dev/null)" ] && break
	sleep 0.1
done
b network prune -f >/dev/null; b volume prune -f >/dev/null
grep " $work/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l
rm -rf "$work"
for d in $made; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
exit 0
