#!/bin/sh
# The engine on a pure cgroup v2 host: limits, a published port, a
# user-defined network with names, a user namespace, GPU device nodes.
cd "$(dirname "$0")"
B="./berth --root /var/tmp/berth-e2e/s --runroot /var/tmp/berth-e2e/r"
echo "== host"; uname -r; stat -fc %T /sys/fs/cgroup
$B import -c 'CMD ["sh"]' rootfs.tar bb >/dev/null || exit 1
echo "== limits"; $B run --rm -m 64m --cpus 0.5 --pids-limit 50 bb sh -c 'cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max'
echo "== published port"; $B run -d --name web -p 127.0.0.1:18080:80 bb sh -c 'mkdir /www; echo hello-v2 > /www/index.html; exec httpd -f -p 80 -h /www' >/dev/null
for i in 1 2 3 4 5 6 7 8 9 10; do ./busybox wget -qO- http://127.0.0.1:18080/ 2>/dev/null && break; sleep 0.3; done
$B ps
echo "== names on a user network"; $B network create n1 >/dev/null; $B run -d --name db --network n1 --network-alias database bb sh -c 'mkdir /www; echo db-by-name > /www/index.html; exec httpd -f -p 80 -h /www' >/dev/null
$B run --rm --network n1 bb sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://database/ 2>/dev/null && exit 0; sleep 0.3; done; exit 1'
echo "== user namespace"; chmod o+x /var/tmp/berth-e2e; $B run --rm --userns=auto bb sh -c 'id; cat /proc/self/uid_map; stat -c "%u %n" /bin/busybox'
echo "== GPU device nodes"; devs=""; for d in /dev/nvidia0 /dev/nvidiactl /dev/nvidia-uvm; do [ -e $d ] && devs="$devs --device $d"; done
$B run --rm $devs bb sh -c 'ls -l /dev/nvidia*; head -c 0 /dev/nvidiactl && echo nvidiactl-open-ok'
echo "== stats"; $B stats --no-stream
echo "== cleanup"; $B rm -f web db >/dev/null; $B network rm n1 >/dev/null; $B network prune -f >/dev/null; ls /sys/class/net | grep -c berth; ls /sys/fs/cgroup/berth 2>/dev/null | grep -c '^[0-9a-f]\{64\}$'
rm -rf /var/tmp/berth-e2e
