#!/bin/sh
# A 3-node RabbitMQ cluster on loopback, for tests and for trying scale-out
# (docs/scale-out.md). Leaves the default node (rabbit@localhost on 5672) alone:
# its own node names, ports, data directories, config and Erlang cookie.
#
#   deploy/rabbitmq/cluster.sh up       start the three nodes and join them
#   deploy/rabbitmq/cluster.sh status   cluster status as the first node sees it
#   deploy/rabbitmq/cluster.sh urls     the AMQP URLs, one a line
#   deploy/rabbitmq/cluster.sh kill N   kill -9 node N (1-3), as a crash would
#   deploy/rabbitmq/cluster.sh start N  start node N again if it is down (it rejoins the cluster)
#   deploy/rabbitmq/cluster.sh leader Q the node (1-3) leading quorum queue Q
#   deploy/rabbitmq/cluster.sh down     stop the nodes and delete their data
#
# Environment (all optional):
#   PINTU_CLUSTER_DIR   where the nodes keep everything   (default: $TMPDIR/pintu-rabbitmq-cluster)
#   PINTU_CLUSTER_PORT  AMQP port of the first node; the others are +1, +2 (default: 5681)
#   PINTU_CLUSTER_NAME  node-name stem: <name>-1@localhost …               (default: pintu-c)
#   RABBITMQ_BIN        directory of rabbitmq-server and rabbitmqctl — the real scripts,
#                       not Debian's /usr/sbin wrappers, which switch user (and cookie)
#                       when run as root                 (default: /usr/lib/rabbitmq/bin if present)
#
# Ports of node i (i = 0, 1, 2): AMQP PORT+i, Erlang distribution PORT+i+20000,
# CLI tools PORT+i+30000..+30010 (RabbitMQ's own rule, written out so nothing in
# /etc/rabbitmq changes it). Node names register with the shared epmd (4369) like
# any Erlang node. No plugins: management and prometheus stay off, so
# 15672/15692 are not touched.
set -eu

DIR=${PINTU_CLUSTER_DIR:-${TMPDIR:-/tmp}/pintu-rabbitmq-cluster}
PORT=${PINTU_CLUSTER_PORT:-5681}
NAME=${PINTU_CLUSTER_NAME:-pintu-c}
if [ -z "${RABBITMQ_BIN:-}" ]; then
    if [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
        RABBITMQ_BIN=/usr/lib/rabbitmq/bin
    else
        RABBITMQ_BIN=$(dirname "$(command -v rabbitmq-server)")
    fi
fi
NODES="1 2 3"

node_name() { echo "$NAME-$1@localhost"; }
amqp_port() { echo $((PORT + $1 - 1)); }

# Run a RabbitMQ script as node $1 of this cluster: its environment only.
# (sh has no local variables: the helpers' names start with _.)
as_node() {
    _n=$1
    shift
    _p=$(amqp_port "$_n")
    _d="$DIR/node$_n"
    env HOME="$DIR" \
        RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf" \
        RABBITMQ_NODENAME="$(node_name "$_n")" \
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT="$_p" \
        RABBITMQ_DIST_PORT=$((_p + 20000)) \
        RABBITMQ_CTL_DIST_PORT_MIN=$((_p + 30000)) \
        RABBITMQ_CTL_DIST_PORT_MAX=$((_p + 30010)) \
        RABBITMQ_CONFIG_FILE="$_d/rabbitmq.conf" \
        RABBITMQ_ADVANCED_CONFIG_FILE="$_d/advanced.config" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$_d/enabled_plugins" \
        RABBITMQ_MNESIA_BASE="$_d/mnesia" \
        RABBITMQ_LOG_BASE="$_d/log" \
        RABBITMQ_PID_FILE="$_d/rabbitmq.pid" \
        "$RABBITMQ_BIN/$@"
}

ctl() {
    _c=$1
    shift
    as_node "$_c" rabbitmqctl -n "$(node_name "$_c")" "$@"
}

up() {
    if [ -f "$DIR/up" ]; then
        echo "cluster already up in $DIR (run: $0 down)" >&2
        exit 1
    fi
    mkdir -p "$DIR"
    # One cookie for this cluster, not the default node's.
    if [ ! -f "$DIR/.erlang.cookie" ]; then
        (umask 077 && od -An -N20 -tx1 /dev/urandom | tr -d ' \n' >"$DIR/.erlang.cookie")
    fi
    chmod 400 "$DIR/.erlang.cookie"
    # Read instead of /etc/rabbitmq/rabbitmq-env.conf (which names the default node).
    cat >"$DIR/rabbitmq-env.conf" <<'EOF'
ERL_EPMD_ADDRESS=127.0.0.1
export ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"
EOF
    for n in $NODES; do
        nd="$DIR/node$n"
        mkdir -p "$nd/mnesia" "$nd/log"
        echo "[]." >"$nd/enabled_plugins"
        echo "[]." >"$nd/advanced.config"
        cat >"$nd/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$(amqp_port "$n")
loopback_users.guest = true
cluster_name = $NAME
EOF
        as_node "$n" rabbitmq-server -detached
    done
    for n in $NODES; do
        # Waits for the node's boot to finish (or fail: the exit status says).
        ctl "$n" wait --timeout 120 "$DIR/node$n/rabbitmq.pid" >/dev/null
    done
    # The CLI logs the joining node's boot to stderr: kept in cluster.log.
    for n in 2 3; do
        {
            ctl "$n" stop_app
            ctl "$n" reset
            ctl "$n" join_cluster "$(node_name 1)"
            ctl "$n" start_app
        } >>"$DIR/cluster.log" 2>&1 || {
            echo "node $n could not join; see $DIR/cluster.log and $DIR/node$n/log" >&2
            exit 1
        }
    done
    ctl 1 await_online_nodes 3 --timeout 120 >>"$DIR/cluster.log" 2>&1
    touch "$DIR/up"
    echo "3-node cluster up in $DIR:"
    urls
}

check_node() {
    case "${1:-}" in
    1 | 2 | 3) ;;
    *)
        echo "node must be 1, 2 or 3" >&2
        exit 2
        ;;
    esac
    [ -f "$DIR/up" ] || {
        echo "no cluster up in $DIR" >&2
        exit 1
    }
}

kill_node() {
    check_node "$1"
    kill -9 "$(cat "$DIR/node$1/rabbitmq.pid")"
}

start_node() {
    check_node "$1"
    if ctl "$1" ping >/dev/null 2>&1; then
        return 0
    fi
    as_node "$1" rabbitmq-server -detached
    ctl "$1" wait --timeout 120 "$DIR/node$1/rabbitmq.pid" >>"$DIR/cluster.log" 2>&1
}

# Asked of any running node: the one that answers first.
leader() {
    for n in $NODES; do
        out=$(ctl "$n" list_queues -q --no-table-headers name leader 2>/dev/null) || continue
        echo "$out" | awk -v q="$1" -v stem="$NAME-" '$1 == q { sub("@.*", "", $2); sub(stem, "", $2); print $2 }'
        return 0
    done
    echo "no node answers" >&2
    exit 1
}

urls() {
    for n in $NODES; do
        echo "amqp://guest:guest@127.0.0.1:$(amqp_port "$n")/%2f"
    done
}

down() {
    if [ ! -d "$DIR" ]; then
        echo "no cluster in $DIR"
        return 0
    fi
    for n in $NODES; do
        pidfile="$DIR/node$n/rabbitmq.pid"
        [ -f "$pidfile" ] || continue
        ctl "$n" stop "$pidfile" >/dev/null 2>&1 || true
        # A node that did not stop (hung, or its CLI could not reach it): by its pid only.
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$DIR"
    echo "cluster stopped, $DIR removed"
}

case "${1:-}" in
up) up ;;
down) down ;;
status) ctl 1 cluster_status ;;
urls) urls ;;
kill) kill_node "${2:-}" ;;
start) start_node "${2:-}" ;;
leader) leader "${2:?queue name}" ;;
*)
    echo "usage: $0 up|status|urls|kill N|start N|leader QUEUE|down" >&2
    exit 2
    ;;
esac
