#!/usr/bin/env bash
# A RabbitMQ node of a test's own on loopback, for tests that must
# reconfigure or block a broker (never the machine's shared one): its own
# node name, ports, config, data and logs under DIR, no plugins.
#
#   own-node.sh start DIR NAME PORT [TLS_DIR TLS_PORT]
#   own-node.sh stop DIR NAME
#
# e.g. `start /tmp/fe-node fe-blocked 5697`. With TLS_DIR (made by
# tests/tls/endpoint.sh) the node also listens for TLS on TLS_PORT with
# TLS_DIR's server certificate: the broker's own TLS, for the benchmark.
#
# The distribution port is PORT + 20000. The node shares the machine's
# Erlang cookie (one OS user), so rabbitmqctl -n NAME@localhost reaches it.
set -euo pipefail

action=${1:?usage: own-node.sh start|stop DIR NAME [PORT]}
dir=${2:?DIR}
name=${3:?NAME}
node="$name@localhost"

case "$action" in
start)
    port=${4:?PORT}
    rm -rf "$dir"
    mkdir -p "$dir/mnesia" "$dir/log"
    cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.local = 127.0.0.1:$port
loopback_users = none
CONF
    if [[ -n "${5:-}" ]]; then
        tls_dir=$5
        tls_port=${6:?TLS_PORT}
        # The node runs as the rabbitmq user: it gets copies it can read.
        cp "$tls_dir/ca.pem" "$tls_dir/server.pem" "$tls_dir/server.key" "$dir/"
        cat >>"$dir/rabbitmq.conf" <<CONF
listeners.ssl.default = 127.0.0.1:$tls_port
ssl_options.cacertfile = $dir/ca.pem
ssl_options.certfile = $dir/server.pem
ssl_options.keyfile = $dir/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
CONF
    fi
    : >"$dir/enabled_plugins"
    : >"$dir/rabbitmq-env.conf"
    chown -R rabbitmq:rabbitmq "$dir" 2>/dev/null || true
    # Each variable here overrides the machine's rabbitmq-env.conf.
    env RABBITMQ_NODENAME="$node" \
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT="$port" \
        RABBITMQ_DIST_PORT=$((port + 20000)) \
        RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" \
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
        RABBITMQ_MNESIA_BASE="$dir/mnesia" \
        RABBITMQ_LOG_BASE="$dir/log" \
        RABBITMQ_PID_FILE="$dir/pid" \
        ERL_EPMD_ADDRESS=127.0.0.1 \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
        rabbitmq-server -detached
    for _ in $(seq 1 60); do
        timeout 20 rabbitmqctl -n "$node" await_startup >/dev/null 2>&1 && exit 0
        sleep 1
    done
    echo "node $node did not start; its log:" >&2
    tail -30 "$dir"/log/*.log >&2 || true
    exit 1
    ;;
stop)
    timeout 60 rabbitmqctl -n "$node" stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: own-node.sh start|stop DIR NAME [PORT]" >&2
    exit 2
    ;;
esac
