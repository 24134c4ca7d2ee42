#!/usr/bin/env bash
# A PostgreSQL 15 cluster of a test's own on loopback, for tests that must
# stop and start a server under the driver (never the machine's shared one
# on 5432): its own name, port, data directory and log, trust auth for
# local and 127.0.0.1 connections, not started at boot.
#
#   own-cluster.sh start NAME [PORT]   # creates it on PORT first if missing
#   own-cluster.sh stop NAME
#   own-cluster.sh restart NAME
#   own-cluster.sh drop NAME           # stops it and deletes everything
#
# e.g. `start fe_chaos_1234 5479`; then postgres://postgres@127.0.0.1:5479/postgres.
# Needs root (or the postgres user) for pg_createcluster and pg_dropcluster.
#
# Read when the cluster is made:
#   OWN_CLUSTER_NAPTIME_S      autovacuum_naptime, in seconds
#   OWN_CLUSTER_DISK_MB        the data directory on a tmpfs of this many MiB
#                              of its own, at /tmp/fastevent-pg-NAME (mounted
#                              here, unmounted by `drop`; needs root)
#   OWN_CLUSTER_INITDB_OPTIONS more initdb options (e.g. --wal-segsize=1)
#   OWN_CLUSTER_CONF           more lines for the cluster's configuration
set -euo pipefail

version=15
action=${1:?usage: own-cluster.sh start|stop|restart|drop NAME [PORT]}
name=${2:?NAME}

wait_ready() {
    local port=$1
    for _ in $(seq 1 60); do
        pg_isready -q -h 127.0.0.1 -p "$port" && return 0
        sleep 0.5
    done
    echo "cluster $version/$name did not accept connections on port $port" >&2
    return 1
}

# The tmpfs of OWN_CLUSTER_DISK_MB (see above).
disk=/tmp/fastevent-pg-$name

port_of() {
    pg_conftool "$version" "$name" show -s port
}

case "$action" in
start)
    if ! pg_lsclusters -h | awk '{print $1 "/" $2}' | grep -qx "$version/$name"; then
        port=${3:?PORT: the cluster does not exist yet}
        data=()
        if [ -n "${OWN_CLUSTER_DISK_MB:-}" ]; then
            mkdir -p "$disk"
            mountpoint -q "$disk" || mount -t tmpfs -o "size=${OWN_CLUSTER_DISK_MB}m" tmpfs "$disk"
            data=(-d "$disk/data")
        fi
        # Explicit auth options leave initdb's pg_hba.conf as it is: trust
        # for the local socket and for 127.0.0.1.
        # shellcheck disable=SC2086 # the initdb options are words
        pg_createcluster --quiet --start-conf=manual -p "$port" "${data[@]}" \
            "$version" "$name" -- --auth-local=trust --auth-host=trust \
            ${OWN_CLUSTER_INITDB_OPTIONS:-} >/dev/null
        # Loopback only (pg_createcluster's -o quotes this value wrongly).
        echo "listen_addresses = '127.0.0.1'" \
            >"/etc/postgresql/$version/$name/conf.d/own-cluster.conf"
        # A shorter pause between autovacuum visits (default 1 min) puts
        # more of them in a short soak: CI soaks in minutes, not half hours.
        if [ -n "${OWN_CLUSTER_NAPTIME_S:-}" ]; then
            echo "autovacuum_naptime = ${OWN_CLUSTER_NAPTIME_S}s" \
                >>"/etc/postgresql/$version/$name/conf.d/own-cluster.conf"
        fi
        if [ -n "${OWN_CLUSTER_CONF:-}" ]; then
            echo "$OWN_CLUSTER_CONF" >>"/etc/postgresql/$version/$name/conf.d/own-cluster.conf"
        fi
    fi
    pg_ctlcluster "$version" "$name" start
    wait_ready "$(port_of)"
    ;;
stop)
    # Fast: open connections are ended at once, as in a real outage.
    pg_ctlcluster "$version" "$name" stop -m fast
    ;;
restart)
    pg_ctlcluster "$version" "$name" restart -m fast
    wait_ready "$(port_of)"
    ;;
drop)
    pg_dropcluster --stop "$version" "$name" 2>/dev/null || true
    # pg_dropcluster leaves files it did not make (conf.d/own-cluster.conf).
    rm -rf "/etc/postgresql/$version/$name"
    if mountpoint -q "$disk"; then
        umount "$disk"
    fi
    if [ -d "$disk" ]; then
        rmdir "$disk"
    fi
    ;;
*)
    echo "usage: own-cluster.sh start|stop|restart|drop NAME [PORT]" >&2
    exit 2
    ;;
esac
