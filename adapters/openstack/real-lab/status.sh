#!/bin/sh
# One line per daemon the lab started: name, PID, running or not, RSS of it and its children (MiB).
. "$(dirname "$0")/common.sh"
[ -d "$PIDS" ] || { echo "openstack-real lab not up"; exit 1; }
tree() { all=$1 cur=$1; while [ -n "$cur" ]; do cur=$(for p in $cur; do pgrep -P "$p"; done | tr '\n' ' '); all="$all $cur"; done; echo $all; }
down=0
for f in "$PIDS"/*.pid; do
  n=$(basename "$f" .pid); [ "$n" = mariadb-launch ] && continue
  p=$(cat "$f")
  if kill -0 "$p" 2>/dev/null; then
    rss=$(ps -o rss= -p "$(tree "$p" | tr ' ' ',')" | awk '{s+=$1} END {printf "%d", s/1024}')
    printf '%-27s %7s running %5s MiB\n' "$n" "$p" "$rss"
  else printf '%-27s %7s stopped\n' "$n" "$p"; down=1; fi
done
exit $down
