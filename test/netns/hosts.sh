#!/bin/sh
# Hosts for the tests, as network namespaces: NAME-hub holds a bridge, and each of NAME-0 … NAME-(N-1) has an
# eth0 on it at 10.77.0.(i+1)/24, linked by a veth pair whose hub end is vh<i>.
#   hosts.sh up NAME N            make them
#   hosts.sh down NAME N          remove them (and every process still in them)
#   hosts.sh link NAME I up|down  take host I's link to the bridge down or bring it back
#   hosts.sh exec NAME I HOST CMD...  run CMD in host I's namespace with its own hostname HOST
# Needs root and iproute2. Prints nothing on success; a failure says what and exits non-zero.
set -eu
cmd=$1
name=$2
case $cmd in
up)
  n=$3
  command -v ip >/dev/null || { echo "ip not found (Debian: apt-get install iproute2)" >&2; exit 1; }
  ip netns add "$name-hub"
  ip -n "$name-hub" link add br0 type bridge
  ip -n "$name-hub" link set br0 up
  i=0
  while [ "$i" -lt "$n" ]; do
    ip netns add "$name-$i"
    ip -n "$name-hub" link add "vh$i" type veth peer name eth0 netns "$name-$i"
    ip -n "$name-hub" link set "vh$i" master br0 up
    ip -n "$name-$i" addr add "10.77.0.$((i + 1))/24" dev eth0
    ip -n "$name-$i" link set eth0 up
    ip -n "$name-$i" link set lo up
    i=$((i + 1))
  done
  ;;
down)
  n=$3
  i=0
  while [ "$i" -lt "$n" ]; do
    ip netns pids "$name-$i" 2>/dev/null | xargs -r kill -9
    ip netns del "$name-$i" 2>/dev/null || true
    i=$((i + 1))
  done
  ip netns del "$name-hub" 2>/dev/null || true
  ;;
link)
  ip -n "$name-hub" link set "vh$3" "$4"
  ;;
exec)
  i=$3
  host=$4
  shift 4
  exec ip netns exec "$name-$i" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$host" "$@"
  ;;
*)
  echo "usage: hosts.sh up|down NAME N | link NAME I up|down | exec NAME I HOST CMD..." >&2
  exit 1
  ;;
esac
