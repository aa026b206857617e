#!/bin/sh
# The demo: an image made from the busybox fixture, then containers run
# from it by the berth engine, end to end, in a private storage root that
# is removed afterwards.
set -eu
berth=$(realpath "$1"); rootfs=$(realpath "$2")
work=$(mktemp -d /tmp/berth-demo.XXXXXX)
b() { "$berth" --root "$work/storage" --runroot "$work/run" "$@"; }
cleanup() { b rm -f demo-web >/dev/null 2>&1 || true; rm -rf "$work"; }
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
