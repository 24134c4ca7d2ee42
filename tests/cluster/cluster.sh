#!/usr/bin/env bash
# A three-node RabbitMQ cluster on loopback, for the cluster chaos test:
# nodes fe-cluster-{1,2,3}@localhost on AMQP ports BASE+1..3 and Erlang
# distribution ports 20000 above them (BASE: FE_CLUSTER_PORT_BASE, 5680), each with its own config, data and logs
# under DIR, no plugins (no management ports), and the Erlang cookie of the
# machine's rabbitmq user (the one `rabbitmqctl` uses). The machine's own
# broker is never touched, let alone joined.
#
#   cluster.sh start DIR       start the three nodes and join them
#   cluster.sh kill N DIR      SIGKILL node N
#   cluster.sh restart N DIR   start node N again (it rejoins the cluster)
#   cluster.sh stop DIR        stop every node and remove DIR
set -euo pipefail

command=${1:?usage: cluster.sh start|kill N|restart N|stop DIR}
shift
case "$command" in
    kill | restart) node=${1:?node number}; shift ;;
esac
dir=${1:?DIR}

base_port=${FE_CLUSTER_PORT_BASE:-5680}

name() { echo "fe-cluster-$1@localhost"; }
port() { echo $((base_port + $1)); }

ctl() {
    local n=$1
    shift
    timeout 60 rabbitmqctl -q -n "$(name "$n")" "$@"
}

start_node() {
    local n=$1 base="$dir/n$1"
    mkdir -p "$base/mnesia" "$base/log"
    # Its own file, so that the machine's (which pins port 5672) is not read.
    echo "log.file.level = info" >"$base/rabbitmq.conf"
    echo "[]." >"$base/enabled_plugins"
    # A quorum queue dead-lettering at least once waits this long for the
    # target's confirm before it sends again (3 minutes by default): a retry
    # between two delay levels when a leader dies is that late. Shortened
    # here so the test waits less; the README says so to operators.
    echo "[{rabbit, [{dead_letter_worker_publisher_confirm_timeout, ${FE_CLUSTER_DLX_CONFIRM_MS:-15000}}]}]." \
        >"$base/advanced.config"
    : >"$base/rabbitmq-env.conf"
    chown -R rabbitmq:rabbitmq "$base"
    # As the rabbitmq user: its cookie is the one rabbitmqctl presents.
    su rabbitmq -s /bin/sh -c "cd '$base' && env \
        RABBITMQ_NODENAME='$(name "$n")' \
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT=$(port "$n") \
        RABBITMQ_DIST_PORT=$(($(port "$n") + 20000)) \
        RABBITMQ_CONF_ENV_FILE='$base/rabbitmq-env.conf' \
        RABBITMQ_CONFIG_FILE='$base/rabbitmq.conf' \
        RABBITMQ_ADVANCED_CONFIG_FILE='$base/advanced.config' \
        RABBITMQ_ENABLED_PLUGINS_FILE='$base/enabled_plugins' \
        RABBITMQ_MNESIA_BASE='$base/mnesia' \
        RABBITMQ_LOG_BASE='$base/log' \
        RABBITMQ_PID_FILE='$base/pid' \
        ERL_EPMD_ADDRESS=127.0.0.1 \
        /usr/lib/rabbitmq/bin/rabbitmq-server >'$base/log/stdout' 2>&1 &"
    for _ in $(seq 1 60); do
        ctl "$n" await_startup >/dev/null 2>&1 && return 0
        sleep 1
    done
    echo "node $(name "$n") did not start; see $base/log" >&2
    return 1
}

case "$command" in
start)
    rm -rf "$dir"
    mkdir -p "$dir"
    for n in 1 2 3; do start_node "$n"; done
    for n in 2 3; do
        ctl "$n" stop_app
        ctl "$n" reset
        ctl "$n" join_cluster "$(name 1)"
        ctl "$n" start_app
    done
    ctl 1 cluster_status | grep -c "fe-cluster" >/dev/null
    echo "cluster up: amqp://guest:guest@127.0.0.1:$(port 1)/%2f (and $(port 2), $(port 3))"
    ;;
kill)
    kill -9 "$(cat "$dir/n$node/pid")"
    echo "node $(name "$node") killed"
    ;;
restart)
    start_node "$node"
    echo "node $(name "$node") restarted"
    ;;
stop)
    for n in 1 2 3; do
        ctl "$n" stop >/dev/null 2>&1 || true
        if [ -f "$dir/n$n/pid" ]; then kill -9 "$(cat "$dir/n$n/pid")" 2>/dev/null || true; fi
    done
    rm -rf "$dir"
    echo "cluster stopped"
    ;;
*)
    echo "unknown command: $command" >&2
    exit 2
    ;;
esac
