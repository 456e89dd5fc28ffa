#!/bin/bash
# Real SMTP server (aiosmtpd, Mailbox handler) on loopback for tests:
# every message lands as a file in <dir>/new/ with its headers intact.
#   smtp-sink.sh start <dir> <port>   (pid in <dir>/smtp.pid; waits for the port)
#   smtp-sink.sh stop <dir>
# /usr/bin/python3 on purpose: the python3 first on PATH may not see Debian's
# python3-aiosmtpd.
set -eu
cmd=${1:?usage: smtp-sink.sh start|stop <dir> [port]}
dir=${2:?dir}
case "$cmd" in
start)
    port=${3:?port}
    mkdir -p "$dir"
    /usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$dir/mbox" \
        >>"$dir/smtp.out" 2>&1 &
    echo $! > "$dir/smtp.pid"
    i=0
    while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        i=$((i+1))
        if [ $i -gt 100 ]; then
            echo "smtp sink did not start:" >&2
            cat "$dir/smtp.out" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
    ;;
stop)
    if [ -f "$dir/smtp.pid" ]; then
        kill "$(cat "$dir/smtp.pid")" 2>/dev/null || true
        rm -f "$dir/smtp.pid"
    fi
    ;;
*)
    echo "usage: smtp-sink.sh start|stop <dir> [port]" >&2
    exit 2
    ;;
esac
