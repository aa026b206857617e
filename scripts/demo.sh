#!/bin/sh
# The demo: an image made from the busybox fixture, then containers run
# from it by the berth engine, end to end, in a private storage root that
# is removed afterwards.
set -eu
berth=$(realpath "$1"); rootfs=$(realpath "$2")
work=$(mktemp -d /tmp/berth-demo.XXXXXX)
b() { "$berth" --root "$work/storage" --runroot "$work/run" "$@"; }
# The engine's parent cgroups (/berth in each hierarchy) go too, when
# the demo made them.
parents_before=$(ls -d /sys/fs/cgroup/*/berth 2>/dev/null || true)
cleanup() {
	b rm -f demo-web demo-http demo-db >/dev/null 2>&1 || true
	b network rm demo-net >/dev/null 2>&1 || true
	b network prune -f >/dev/null 2>&1 || true
	rm -rf "$work"
	for d in /sys/fs/cgroup/*/berth; do
		[ -d "$d" ] || continue
		case "$parents_before" in *"$d"*) continue ;; esac
		rmdir "$d" 2>/dev/null || true # still in use by a container started elsewhere
	done
}
trap cleanup EXIT
tar -C "$rootfs" --numeric-owner -cf "$work/rootfs.tar" .
echo '$ berth import -c CMD=["sh"] rootfs.tar busybox:demo'
b import -c 'CMD ["sh"]' "$work/rootfs.tar" busybox:demo
echo '$ berth images'
b images
echo '$ berth run --rm --hostname berth-demo busybox:demo sh -c ...'
b run --rm --hostname berth-demo busybox:demo sh -c 'echo "hello from inside berth: hostname=$(hostname) pid=$$ uid=$(id -u)"; echo processes:; ps'
echo '$ berth run -d --name demo-web busybox:demo sh -c "echo serving; sleep 1000"'
b run -d --name demo-web busybox:demo sh -c 'echo serving; sleep 1000' >/dev/null
echo '$ berth ps'
b ps
echo '$ berth exec demo-web cat /etc/hostname'
b exec demo-web cat /etc/hostname
echo '$ berth logs demo-web'
b logs demo-web
echo '$ berth stop -t 1 demo-web && berth rm demo-web'
b stop -t 1 demo-web >/dev/null && b rm demo-web >/dev/null
echo "exit code of a failing container: $(b run --rm busybox:demo sh -c 'exit 3' || echo $?)"
echo '$ berth run -d --name demo-http -p 127.0.0.1:18080:80 busybox:demo httpd -f -p 80 -h /www'
b run -d --name demo-http -p 127.0.0.1:18080:80 busybox:demo sh -c 'mkdir -p /www && echo "hello through a published port" > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
b port demo-http
echo '$ wget -qO- http://127.0.0.1:18080/   (from the host)'
for i in 1 2 3 4 5 6 7 8 9 10; do "$rootfs/bin/busybox" wget -qO- http://127.0.0.1:18080/ 2>/dev/null && break; sleep 0.2; done
echo '$ berth network create demo-net; berth run -d --name demo-db --network demo-net --network-alias db ...'
b network create demo-net >/dev/null
b run -d --name demo-db --network demo-net --network-alias db busybox:demo sh -c 'mkdir -p /www && echo "db answers by name" > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
echo '$ berth run --rm --network demo-net busybox:demo wget -qO- http://db/'
b run --rm --network demo-net busybox:demo sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://db/ 2>/dev/null && exit 0; sleep 0.2; done; exit 1'
echo '$ berth build -t greeter:1 CONTEXT   (a two-stage Dockerfile; then again, all CACHED)'
mkdir -p "$work/context"
printf 'world\n' > "$work/context/name.txt"
cat > "$work/context/Dockerfile" <<'DOCKERFILE'
FROM busybox:demo AS build
COPY name.txt /src/
RUN <<EOT
echo "hello, $(cat /src/name.txt), from a built image" > /greeting
EOT
FROM busybox:demo
COPY --from=build /greeting /greeting
CMD ["cat", "/greeting"]
DOCKERFILE
b build -q -t greeter:1 "$work/context" >/dev/null
echo "second build: $(b build -t greeter:1 "$work/context" 2>&1 | grep -c CACHED) steps CACHED"
b run --rm greeter:1
