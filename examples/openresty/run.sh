#!/bin/sh
# Starts examples/openresty in the foreground on 127.0.0.1:8080, or $PORT (Ctrl-C stops it):
# builds the LuaJIT module, then uploads go to real COS when COS_SECRETID, COS_SECRETKEY,
# COS_BUCKET and COS_REGION are set, else to a local cosd started here (stopped with nginx).
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
make -C "$root" --no-print-directory LUA=luajit all >&2
mkdir -p "$here/logs"
if [ -z "$COS_SECRETID" ] || [ -z "$COS_SECRETKEY" ] || [ -z "$COS_BUCKET" ] || [ -z "$COS_REGION" ]; then
  data=$(mktemp -d /tmp/lua-cos-openresty.XXXXXX)
  "$root/build-luajit/bin/cosd" --listen 127.0.0.1:0 --data "$data" --port-file "$data/port" \
    --parent-pid $$ >"$here/logs/cosd.log" 2>&1 &
  cosd_pid=$!
  trap 'rm -rf "$data"; kill $cosd_pid 2>/dev/null || true' EXIT
  trap 'exit 130' INT TERM  # through the EXIT trap: the data directory goes too
  while [ ! -s "$data/port" ]; do sleep 0.05; done
  # cosd's default test credentials
  export COS_SECRETID=AKIDcosdTESTsecretid0000000000000000 COS_SECRETKEY=cosdTESTsecretkey000000000000000
  export COS_BUCKET=examplebucket-1250000000 COS_REGION=ap-guangzhou
  export COS_ENDPOINT="127.0.0.1:$(cat "$data/port")"
  echo "local cosd at $COS_ENDPOINT (data in $data)" >&2
fi
port=${PORT:-8080}
conf=nginx.conf
if [ "$port" != 8080 ]; then # the same config on another port
  conf=logs/nginx-$port.conf
  sed "s/127.0.0.1:8080;/127.0.0.1:$port;/" "$here/nginx.conf" >"$here/$conf"
fi
# As root, nginx's workers would run as nobody: keep them with the user who owns the files.
user=""
[ "$(id -u)" = 0 ] && user="user root;"
echo "nginx on http://127.0.0.1:$port (try: curl -T somefile http://127.0.0.1:$port/upload/somefile)" >&2
nginx -p "$here/" -c "$conf" -e logs/error.log ${user:+-g "$user"}
