#!/bin/sh
# Brings the whole all-in-one cloud up (idempotent: a running piece is left as it is).
set -eu
here=$(dirname "$0")
t0=$(date +%s.%N)
sh "$here/infra.sh"
sh "$here/configs.sh"
sh "$here/services.sh" "$@" 2>&1 | grep -v -e getcurrent -e 'Exception ignored' -e '^Traceback' -e '^  File "' -e 'monkey patching'
. "$here/common.sh"
nova-manage --config-file "$ETC/nova/nova.conf" cell_v2 discover_hosts >/dev/null 2>&1 || true
echo "up in $(echo "$(date +%s.%N) - $t0" | bc) s"
