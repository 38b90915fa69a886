/**
 * The files that make the busybox initramfs a cloud guest. PID 1 is busybox `init` (the initramfs `/init` is a symlink
 * to busybox), driven by {@link GUEST_INITTAB}:
 *
 * - `sysinit` runs {@link GUEST_BOOT_SCRIPT}: mounts, modules, the NoCloud seed (ISO labelled `cidata`), the data disk
 *   (virtio serial `kumo-data`, formatted ext2 on first use, mounted at /data), hostname, the NIC matched by MAC with
 *   exactly the seeded address, dropbear with exactly the seeded keys, then `KUMO-GUEST-READY` on the console once
 *   port 22 listens, then user data (a `#!` script, once per instance id) in the background.
 * - `respawn` runs {@link GUEST_POWER_BUTTON_SCRIPT}: any event on the ACPI "Power Button" input device (QMP
 *   `system_powerdown`) powers the guest off cleanly.
 * - `ctrlaltdel` (QMP `send-key ctrl-alt-delete`, the driver's soft reboot) reboots through init.
 *
 * Every line the driver parses starts with `KUMO-GUEST-`. Changing any of these strings changes the image hash, so
 * cached images are rebuilt.
 */
export const GUEST_INITTAB = `::sysinit:/etc/kumo/boot
::respawn:/etc/kumo/power-button
::ctrlaltdel:/sbin/reboot
::shutdown:/etc/kumo/shutdown
`;

export const GUEST_BOOT_SCRIPT = `#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
say() { echo "KUMO-GUEST-$*"; }
unquote() { sed -e "s/^'\\(.*\\)'\$/\\1/" -e "s/''/'/g"; }
field() { sed -n "s/^$1: *//p" "$2" | head -n 1 | unquote; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /run /tmp /seed /data /root/.ssh /etc/dropbear
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
say "BOOT uptime=$(cut -d' ' -f1 /proc/uptime)"

while read -r module; do insmod "/lib/modules/$module" 2>/dev/null; done < /etc/kumo/modules

seed=''
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  seed=$(findfs LABEL=cidata 2>/dev/null) && break
  sleep 0.2
done
if [ -n "$seed" ] && mount -t iso9660 -o ro "$seed" /seed; then
  say "SEED source=$seed"
else
  say "ERROR no NoCloud seed (ISO labelled cidata)"
fi

instance_id=$(field instance-id /seed/meta-data)
host_name=$(field local-hostname /seed/meta-data)
[ -n "$host_name" ] || host_name=localhost
hostname "$host_name"
echo "$host_name" > /etc/hostname
printf '127.0.0.1 localhost\\n127.0.1.1 %s\\n' "$host_name" > /etc/hosts
say "META instance-id=$instance_id hostname=$host_name"

data_dev=''
for block in /sys/block/vd*; do
  [ "$(cat "$block/serial" 2>/dev/null)" = kumo-data ] && data_dev=/dev/\${block##*/}
done
boot_count=0
if [ -n "$data_dev" ]; then
  if ! mount -t ext2 "$data_dev" /data 2>/dev/null; then
    mke2fs -L kumo-data -i 65536 "$data_dev" >/dev/null 2>&1
    mount -t ext2 "$data_dev" /data || say "ERROR cannot mount data disk $data_dev"
  fi
  mkdir -p /data/.kumo
  boot_count=$(( $(cat /data/.kumo/boot-count 2>/dev/null || echo 0) + 1 ))
  echo "$boot_count" > /data/.kumo/boot-count
  sync
  say "DATA device=$data_dev boot-count=$boot_count"
fi
state=/run/kumo
[ -d /data/.kumo ] && state=/data/.kumo
mkdir -p "$state"
first_boot=yes
[ "$(cat "$state/instance-id" 2>/dev/null)" = "$instance_id" ] && first_boot=no
echo "$instance_id" > "$state/instance-id"

awk '
  /^  [^ ]/ { if (mac != "") print mac, addr, gw; mac = ""; addr = ""; gw = "" }
  /macaddress:/ { mac = $2 }
  /^      - / && addr == "" && $2 ~ /\\// { addr = $2 }
  /via:/ { gw = $2 }
  END { if (mac != "") print mac, addr, gw }
' /seed/network-config 2>/dev/null | tr -d "'" > /run/nics
ip link set lo up
default_set=no
while read -r mac addr gw; do
  for dev in /sys/class/net/*; do
    [ "$(cat "$dev/address")" = "$mac" ] || continue
    nic=\${dev##*/}
    ip link set "$nic" up
    ip addr add "$addr" dev "$nic"
    if [ -n "$gw" ] && [ "$default_set" = no ]; then ip route add default via "$gw" dev "$nic" && default_set=yes; fi
    say "NET iface=$nic mac=$mac address=$addr gateway=$gw"
  done
done < /run/nics

sed -n '/^public-keys:/,/^[^ ]/p' /seed/meta-data | sed -n 's/^  - //p' | unquote > /root/.ssh/authorized_keys
chmod 700 /root /root/.ssh
chmod 600 /root/.ssh/authorized_keys
say "SSHKEYS count=$(grep -c . /root/.ssh/authorized_keys)"
if [ "$first_boot" = yes ] || [ ! -s "$state/dropbear_ed25519_host_key" ]; then
  rm -f "$state/dropbear_ed25519_host_key"
  dropbearkey -t ed25519 -f "$state/dropbear_ed25519_host_key" >/dev/null 2>&1
fi
dropbear -s -r "$state/dropbear_ed25519_host_key" -p 22 -P /run/dropbear.pid
for attempt in $(seq 1 100); do
  grep -q ':0016 00000000:0000 0A' /proc/net/tcp /proc/net/tcp6 2>/dev/null && break
  sleep 0.1
done

say "READY instance-id=$instance_id hostname=$host_name boot-count=$boot_count uptime=$(cut -d' ' -f1 /proc/uptime)"

if [ -s /seed/user-data ] && [ "$(head -c 2 /seed/user-data)" = '#!' ] && [ "$first_boot" = yes ]; then
  cp /seed/user-data /run/user-data
  chmod 700 /run/user-data
  ( cd /root && /run/user-data > /run/user-data.log 2>&1; say "USERDATA exit=$?" ) &
fi
`;

export const GUEST_POWER_BUTTON_SCRIPT = `#!/bin/sh
for name in /sys/class/input/event*/device/name; do
  if [ "$(cat "$name" 2>/dev/null)" = 'Power Button' ]; then
    event=\${name%/device/name}
    dd if=/dev/input/\${event##*/} bs=24 count=1 >/dev/null 2>&1
    echo 'KUMO-GUEST-POWERDOWN'
    exec poweroff
  fi
done
exec sleep 3600
`;

export const GUEST_SHUTDOWN_SCRIPT = `#!/bin/sh
echo 'KUMO-GUEST-SHUTDOWN'
sync
umount /data 2>/dev/null
umount /seed 2>/dev/null
`;

/** The busybox `/etc/passwd` and `/etc/group`: root only, shell /bin/sh, no password (dropbear runs with `-s`). */
export const GUEST_PASSWD = 'root:x:0:0:root:/root:/bin/sh\n';
export const GUEST_GROUP = 'root:x:0:\n';
