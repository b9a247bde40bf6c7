#!/usr/bin/env bash
# Conformance of aya's HTTP/2 listener (TLS, ALPN h2) against h2spec (RFC 9113 / RFC 7541).
# Installs h2spec with `go install` into .tools when missing, starts `aya demo` as the upstream
# and a second aya with a TLS listener in front of it, runs h2spec, prints the failed cases and
# the summary line. Usage: bench/h2spec.sh   (or: make h2spec)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools=$root/.tools
mkdir -p "$tools"
if [ ! -x "$tools/h2spec" ]; then
  echo "installing h2spec into .tools ..."
  GOBIN=$tools go install github.com/summerwind/h2spec/cmd/h2spec@v2.6.0 2>/dev/null ||
    GOBIN=$tools go install github.com/summerwind/h2spec/cmd/h2spec@latest
fi
[ -x bin/aya ] || go build -o bin/aya ./cmd/aya

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null

bin/aya demo --listen 127.0.0.1:18190 --admin 127.0.0.1:18191 >"$tmp/demo.log" 2>&1 &
pids+=($!)
cat >"$tmp/aya.yaml" <<YAML
listeners:
  - {name: tls, address: "127.0.0.1:18143", tls: {certificates: [{cert: cert.pem, key: key.pem}]}}
upstreams: [{name: demo, targets: [{url: "http://127.0.0.1:18190"}]}]
routes: [{name: all, match: {path: "/*"}, upstream: demo}]
admin: {address: "127.0.0.1:18192"}
log: {level: error}
YAML
bin/aya run -c "$tmp/aya.yaml" >"$tmp/aya.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  curl -sf http://127.0.0.1:18192/health >/dev/null && curl -sf http://127.0.0.1:18191/health >/dev/null && break
  sleep 0.1
done

set +e
"$tools/h2spec" -t -k -h 127.0.0.1 -p 18143 --path /api/ -o 5 >"$tmp/h2spec.txt" 2>&1
set -e
awk '/^Failures:/,0' "$tmp/h2spec.txt" | grep -E '^\s+[0-9.]+|×' | head -40 || true
tail -n 3 "$tmp/h2spec.txt"
