#!/bin/bash
# Real Dovecot IMAP server on loopback for tests.
#   dovecot.sh start <dir> <port> [tls_port] [user:password ...]
#       renders dovecot.conf.tmpl into <dir>, starts dovecot in the background
#       (pid in <dir>/dovecot.pid) and waits until <port> accepts connections.
#       With tls_port (non-zero) a test CA (<dir>/tls/ca.pem) and a server
#       certificate it signs (<dir>/tls/{cert,key}.pem) are generated and
#       IMAPS listens there (STARTTLS is offered on <port>).
#   dovecot.sh stop <dir>
# Dovecot refuses mailbox access as uid 0, so the mail directory is owned by
# nobody:nogroup.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?usage: dovecot.sh start|stop <dir> ...}
dir=${2:?dir}
case "$cmd" in
start)
    port=${3:?port}
    tls_port=${4:-0}
    [ $# -ge 4 ] && shift 4 || shift $#
    mkdir -p "$dir/run" "$dir/state" "$dir/mail"
    : > "$dir/users"
    for up in "$@"; do
        u=${up%%:*}; p=${up#*:}
        echo "$u:{PLAIN}$p" >> "$dir/users"
    done
    ssl=no; cert=""; key=""
    if [ "$tls_port" != "0" ]; then
        mkdir -p "$dir/tls"
        # A throw-away CA and a server certificate it signs: TLS verifiers
        # (webpki) refuse a CA certificate used directly by the server.
        t="$dir/tls"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Pintu Test CA" \
            -keyout "$t/ca.key" -out "$t/ca.pem" >/dev/null 2>&1
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
            -keyout "$t/key.pem" -out "$t/server.csr" >/dev/null 2>&1
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > "$t/ext.cnf"
        openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
            -days 2 -extfile "$t/ext.cnf" -out "$t/cert.pem" >/dev/null 2>&1
        ssl=yes
        cert="ssl_cert = <$dir/tls/cert.pem"
        key="ssl_key = <$dir/tls/key.pem"
    fi
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@TLS_PORT@|$tls_port|g" \
        -e "s|@SSL@|$ssl|g" -e "s|@SSL_CERT@|$cert|g" -e "s|@SSL_KEY@|$key|g" \
        "$here/dovecot.conf.tmpl" > "$dir/dovecot.conf"
    chown -R nobody:nogroup "$dir/mail"
    chmod 755 "$dir"
    dovecot -F -c "$dir/dovecot.conf" >>"$dir/dovecot.out" 2>&1 &
    echo $! > "$dir/dovecot.pid"
    i=0
    while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        i=$((i+1))
        if [ $i -gt 100 ]; then
            echo "dovecot did not start; log:" >&2
            cat "$dir/dovecot.out" "$dir/dovecot.log" >&2 2>/dev/null || true
            exit 1
        fi
        sleep 0.1
    done
    ;;
stop)
    if [ -f "$dir/dovecot.pid" ]; then
        kill "$(cat "$dir/dovecot.pid")" 2>/dev/null || true
        rm -f "$dir/dovecot.pid"
    fi
    ;;
*)
    echo "usage: dovecot.sh start|stop <dir> ..." >&2
    exit 2
    ;;
esac
