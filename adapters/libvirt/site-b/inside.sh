#!/bin/sh
# Runs inside the site-B network namespace, in a private mount namespace (unshare -m --propagation
# private): libvirt's state, run, config, cache and log directories are replaced by site B's own, so
# this libvirtd, its virtlogd and the sshd that reaches them see nothing of the host's libvirt, and
# the host sees nothing of theirs. Every daemon daemonises and writes its PID file under $1/pids,
# which the host can read: `lab down site-b` stops exactly those PIDs.
set -eu
root=$1
mount -t tmpfs -o mode=0755 vmc-siteb-run /run/libvirt
mount --bind "$root/etc" /etc/libvirt
mount --bind "$root/lib" /var/lib/libvirt
mount --bind "$root/cache" /var/cache/libvirt
mount --bind "$root/log" /var/log/libvirt
# sshd's privilege-separation directory, private to this namespace.
mkdir -p /run/sshd
mount -t tmpfs -o mode=0755 vmc-siteb-sshd /run/sshd
ip link set lo up
# Started through symlinks named *-siteb: their process names differ from the host's daemons, so
# `pgrep -x libvirtd` on the host (the libvirt lab's restarts) can never pick site B's by mistake.
"$root/bin/virtlogd-siteb" -d -p "$root/pids/virtlogd.pid"
"$root/bin/libvirtd-siteb" -d -f "$root/etc/libvirtd.conf" -p "$root/pids/libvirtd.pid"
"$root/bin/sshd-siteb" -f "$root/ssh/sshd_config"
