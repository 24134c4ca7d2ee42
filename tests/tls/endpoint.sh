#!/usr/bin/env bash
# A TLS endpoint in front of the local broker (127.0.0.1:5672), made at run
# time for the amqps:// tests: a private CA and certificates generated with
# openssl, and one socat per case terminating TLS on loopback.
#
#   endpoint.sh start DIR   generate into DIR, start the listeners
#   endpoint.sh stop DIR    stop the listeners started by `start DIR`
#
# Ports (all on 127.0.0.1):
#   5691  good certificate (localhost, 127.0.0.1), signed by DIR/ca.pem
#   5692  the same names, but expired
#   5693  signed by DIR/ca.pem, but for another host name only
#   5694  good names, signed by another CA (DIR/other-ca.pem)
#   5695  good certificate, and a client certificate signed by DIR/ca.pem
#         is required (DIR/client.pem, DIR/client.key)
set -euo pipefail

command_name=${1:?usage: endpoint.sh start|stop DIR}
dir=${2:?usage: endpoint.sh start|stop DIR}
backend=${FASTEVENT_TLS_BACKEND:-127.0.0.1:5672}

stop() {
    if [[ -f "$dir/pids" ]]; then
        while read -r pid; do
            kill "$pid" 2>/dev/null || true
        done <"$dir/pids"
        rm -f "$dir/pids"
    fi
}

# A CA: NAME.key, NAME.pem.
make_ca() {
    local name=$1 subject=$2
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$subject" \
        -keyout "$dir/$name.key" -out "$dir/$name.pem" 2>/dev/null
}

# A leaf certificate NAME.pem/NAME.key signed by CA, for SAN, valid from
# START to END (openssl ca dates, YYYYMMDDHHMMSSZ). `openssl ca` writes a v3
# certificate with extensions, which rustls requires.
make_leaf() {
    local name=$1 ca=$2 san=$3 start=$4 end=$5 usage=$6
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
        -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
    local db="$dir/db-$name"
    mkdir -p "$db"
    : >"$db/index.txt"
    cat >"$db/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $db/index.txt
new_certs_dir = $db
serial = $db/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
x509_extensions = leaf
[any]
commonName = supplied
[leaf]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = $usage
subjectAltName = $san
CNF
    openssl rand -hex 8 >"$db/serial"
    openssl ca -batch -notext -config "$db/ca.cnf" -cert "$dir/$ca.pem" -keyfile "$dir/$ca.key" \
        -startdate "$start" -enddate "$end" -in "$dir/$name.csr" -out "$dir/$name.pem" 2>/dev/null
}

listen() {
    local port=$1 name=$2 extra=$3
    socat "OPENSSL-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,cert=$dir/$name.pem,key=$dir/$name.key,$extra" \
        "TCP:$backend" 2>>"$dir/socat.log" &
    echo $! >>"$dir/pids"
}

case "$command_name" in
start)
    mkdir -p "$dir"
    stop
    now=$(date -u +%s)
    from=$(date -u -d "@$((now - 3600))" +%Y%m%d%H%M%SZ)
    until=$(date -u -d "@$((now + 86400))" +%Y%m%d%H%M%SZ)
    past_from=$(date -u -d "@$((now - 10 * 86400))" +%Y%m%d%H%M%SZ)
    past_until=$(date -u -d "@$((now - 86400))" +%Y%m%d%H%M%SZ)
    good_names="DNS:localhost,IP:127.0.0.1"
    make_ca ca "fastevent test CA"
    make_ca other-ca "another CA"
    make_leaf server ca "$good_names" "$from" "$until" serverAuth
    make_leaf expired ca "$good_names" "$past_from" "$past_until" serverAuth
    make_leaf wrong-host ca "DNS:elsewhere.example" "$from" "$until" serverAuth
    make_leaf foreign other-ca "$good_names" "$from" "$until" serverAuth
    make_leaf client ca "DNS:client.example" "$from" "$until" clientAuth
    listen 5691 server "verify=0"
    listen 5692 expired "verify=0"
    listen 5693 wrong-host "verify=0"
    listen 5694 foreign "verify=0"
    listen 5695 server "verify=1,cafile=$dir/ca.pem"
    # socat listens at once, but give it a moment before the first client.
    for port in 5691 5692 5693 5694 5695; do
        for _ in $(seq 1 50); do
            (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
            sleep 0.1
        done
    done
    ;;
stop)
    stop
    ;;
*)
    echo "usage: endpoint.sh start|stop DIR" >&2
    exit 2
    ;;
esac
