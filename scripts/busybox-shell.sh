#!/bin/sh
# Puts Debian's dynamic busybox (a build that looks commands up on PATH,
# as the upstream busybox image does; busybox-static runs its applets
# without looking) with the libraries it loads into the directory $1,
# once: critest's masked-path spec needs a shell that executes /bin/ls.
set -eu
out=$1
[ -x "$out/bin/sh" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -qq busybox 2>/dev/null) || { apt-get update -qq && (cd "$tmp" && apt-get download -qq busybox); }
dpkg-deb -x "$tmp"/busybox_*.deb "$tmp/x"
rm -rf "$out.tmp" && mkdir -p "$out.tmp/bin"
cp "$tmp/x/bin/busybox" "$out.tmp/bin/sh"
for lib in $(ldd "$out.tmp/bin/sh" | awk '$2 == "=>" {print $3} $1 ~ /^\// {print $1}'); do
	mkdir -p "$out.tmp$(dirname "$lib")"
	cp -L "$lib" "$out.tmp$lib"
done
rm -rf "$out" && mv "$out.tmp" "$out"
