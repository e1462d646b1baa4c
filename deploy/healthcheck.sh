#!/bin/bash
# Docker HEALTHCHECK for the bt image: exit 0 when GET /health answers 200 on
# the port of BT_API_ADDR (bt serve) or of BT_HTTP_ADDR (bt work), else 1.
# Uses bash's /dev/tcp, so the runtime image needs no HTTP client.
# Also run by deploy/compose_run.py against live processes.
set -u
host=${BT_HEALTH_HOST:-127.0.0.1}
for addr in "${BT_API_ADDR:-127.0.0.1:8080}" "${BT_HTTP_ADDR:-127.0.0.1:9101}"; do
    [[ $addr == off || $addr != *:* ]] && continue
    port=${addr##*:}
    # A subshell per try: a refused connection fails only the subshell.
    if timeout 4 bash -c '
        exec 3<>"/dev/tcp/$0/$1" || exit 1
        printf "GET /health HTTP/1.0\r\nHost: %s\r\n\r\n" "$0" >&3
        IFS= read -r status <&3 || exit 1
        [[ $status == "HTTP/1."?" 200 "* ]]' "$host" "$port" 2>/dev/null; then
        exit 0
    fi
done
echo "bt-healthcheck: no /health answered 200 (BT_API_ADDR=${BT_API_ADDR:-}, BT_HTTP_ADDR=${BT_HTTP_ADDR:-})" >&2
exit 1
