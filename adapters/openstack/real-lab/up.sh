#!/bin/sh
# Brings the whole all-in-one cloud up (idempotent: a running piece is left as it is).
set -eu
here=$(dirname "$0")
t0=$(date +%s.%N)
sh "$here/infra.sh"
# Ceph only where its packages are installed; Cinder falls back to the API-only fake driver otherwise.
if command -v ceph-mon >/dev/null; then sh "$here/ceph.sh" >/dev/null; fi
sh "$here/configs.sh"
sh "$here/services.sh" "$@" 2>&1 | grep -v -e getcurrent -e 'Exception ignored' -e '^Traceback' -e '^  File "' -e 'monkey patching'
. "$here/common.sh"
nova-manage --config-file "$ETC/nova/nova.conf" cell_v2 discover_hosts >/dev/null 2>&1 || true
echo "up in $(echo "$(date +%s.%N) - $t0" | bc) s"
