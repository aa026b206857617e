#!/bin/sh
# Prepares a folder that the device tool carries to the device host (pure
# cgroup v2, no Go, no package installs): static berth-runtime and harness,
# the busybox rootfs, and Debian's runc and crun unpacked with dpkg -x.
# usage: bench/device-prepare.sh BINDIR ROOTFS OUT
set -eu
bindir=$1 rootfs=$2 out=$3
rm -rf "$out"
mkdir -p "$out/bin" "$out/debs"
cp "$bindir/berth-runtime" "$out/bin/"
CGO_ENABLED=0 go build -o "$out/bin/bench-harness" ./bench/harness
cp -a "$rootfs" "$out/rootfs"
(cd "$out/debs" && apt-get download runc crun libyajl2 >/dev/null)
for deb in "$out"/debs/*.deb; do dpkg -x "$deb" "$out/pkg"; done
cp "$out/pkg/usr/sbin/runc" "$out/pkg/usr/bin/crun" "$out/bin/"
# crun is dynamically linked; yajl is the one library Ubuntu may lack.
mkdir -p "$out/lib" && cp -a "$out"/pkg/usr/lib/x86_64-linux-gnu/libyajl.so.2* "$out/lib/"
rm -rf "$out/debs" "$out/pkg"
cat > "$out/run.sh" <<'RUN'
#!/bin/sh
# On the device host, from the repository root: the runtime scenarios.
set -eu
d=$(dirname "$0")
export LD_LIBRARY_PATH="$d/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
OUT=${OUT:-$d/results}
"$d/bin/bench-harness" -berth-runtime "$d/bin/berth-runtime" -rootfs "$d/rootfs" -peer-bin "$d/bin" \
  -peers berth,runc,crun,floor -scenarios run,run-nonet,run-memory,create,start,exec,serial-50,parallel-50,rss \
  -runs "${BENCH_RUNS:-100}" -results "$OUT"
RUN
chmod +x "$out/run.sh"
echo "prepared $out ($(du -sh "$out" | cut -f1)); run on the device: sh $out/run.sh (carry $out)"
