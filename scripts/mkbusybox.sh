#!/bin/sh
# Makes the busybox root filesystem fixture from Debian's busybox-static
# (never downloaded from a registry): DEST/bin/busybox plus one link per
# applet, the directories a container expects, and a small /etc.
# usage: scripts/mkbusybox.sh DEST
set -eu
dest=${1:?usage: mkbusybox.sh DEST}
bb=/bin/busybox
if ! "$bb" --list >/dev/null 2>&1 || ! file -L "$bb" 2>/dev/null | grep -q static; then
	for c in /usr/bin/busybox /bin/busybox; do [ -x "$c" ] && bb=$c; done
fi
if ! "$bb" --list >/dev/null 2>&1; then
	echo "mkbusybox: busybox-static is not installed (apt-get install busybox-static)" >&2
	exit 1
fi
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
cd "$dest.tmp"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root home var/tmp run
chmod 1777 tmp var/tmp
cp "$bb" bin/busybox
for applet in $(bin/busybox --list); do
	[ "$applet" = busybox ] && continue
	ln -sf busybox "bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > etc/passwd
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' > etc/group
echo berth > etc/hostname
cd - >/dev/null
rm -rf "$dest"
mv "$dest.tmp" "$dest"
