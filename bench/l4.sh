#!/usr/bin/env bash
# Same-run comparison of aya and HAProxy as TCP (L4) proxies on one pinned core: throughput
# of a few long connections, and the rate of short connections. See bench/README.md.
# Settings come from the environment:
#   ROUNDS=2 DURATION=3s                 interleaved rounds, and the length of each measured run
#   TPUT_CONNS=4 RATE_CONNS=32           connections streaming (throughput), workers (connection rate)
#   PROXIES="aya haproxy"                which proxies to measure
#   AYA_BIN=path                         use this aya binary instead of building bin/aya
#   PROXY_CORE=0 LOAD_CORE=1             proxy on one core; backend and load generator on the other
#   KEEP_TMP=1                           keep the temp dir (configs, logs, raw outputs)
set -euo pipefail

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-3s}
TPUT_CONNS=${TPUT_CONNS:-4}
RATE_CONNS=${RATE_CONNS:-32}
PROXIES=${PROXIES:-aya haproxy}
PROXY_CORE=${PROXY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
KEEP_TMP=${KEEP_TMP:-0}

BACKEND_PORT=18101
PROXY_PORT=18090
ADMIN_PORT=19902

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d /tmp/aya-l4bench.XXXXXX)
pids=()
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

install_tools() {
	local missing=()
	command -v haproxy >/dev/null || missing+=(haproxy)
	command -v taskset >/dev/null || missing+=(util-linux)
	command -v pgrep >/dev/null || missing+=(procps)
	((${#missing[@]} == 0)) && return 0
	[[ $(id -u) == 0 ]] || die "missing ${missing[*]}: run as root or install them with apt-get"
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_tools
(($(nproc) >= 2)) || die "needs at least 2 cores (proxy on one, load on the other)"
command -v go >/dev/null || die "needs go to build the load generator (bench/l4load)"
(cd "$root" && go build -o "$tmp/l4load" ./bench/l4load) || die "go build ./bench/l4load failed"
aya_bin=${AYA_BIN:-}
if [[ " $PROXIES " == *" aya "* && -z $aya_bin ]]; then
	(cd "$root" && go build -o bin/aya ./cmd/aya) || die "go build ./cmd/aya failed; set AYA_BIN"
	aya_bin=$root/bin/aya
fi
hz=$(getconf CLK_TCK)

cat >"$tmp/aya.yaml" <<YAML
listeners:
  - {name: tcp, address: "127.0.0.1:$PROXY_PORT", protocol: tcp, upstream: backend}
upstreams:
  - {name: backend, targets: ["tcp://127.0.0.1:$BACKEND_PORT"]}
log: {level: warn}
admin: {address: "127.0.0.1:$ADMIN_PORT"}
YAML
# HAProxy in TCP mode with one thread; splice-auto lets it splice as aya does.
cat >"$tmp/haproxy.cfg" <<CFG
global
    nbthread 1
    maxconn 4096
defaults
    mode tcp
    option splice-auto
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend l4
    bind 127.0.0.1:$PROXY_PORT
    default_backend backend
backend backend
    server s1 127.0.0.1:$BACKEND_PORT
CFG

taskset -c "$LOAD_CORE" "$tmp/l4load" serve -addr "127.0.0.1:$BACKEND_PORT" >"$tmp/backend.out" 2>&1 &
backend_pid=$!
pids+=("$backend_pid")
wait_port "$BACKEND_PORT" backend "$backend_pid"

start_proxy() {
	case $1 in
	aya) GOMAXPROCS=1 taskset -c "$PROXY_CORE" "$aya_bin" run -c "$tmp/aya.yaml" >"$tmp/aya.out" 2>&1 & ;;
	haproxy) taskset -c "$PROXY_CORE" haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.out" 2>&1 & ;;
	esac
	proxy_pid=$!
	pids+=("$proxy_pid")
	wait_port "$PROXY_PORT" "$1" "$proxy_pid"
}

stop_proxy() {
	stop_pid "$proxy_pid"
	unset 'pids[${#pids[@]}-1]'
	# Let the port's TIME_WAIT connections from the rate test not meet the next proxy.
	sleep 1
}

declare -A sum
measure() { # measure PROXY: one throughput run and one connection-rate run on a fresh proxy
	local p=$1 t0 t1 out bytes secs conns errs
	start_proxy "$p"
	"$tmp/l4load" tput -addr "127.0.0.1:$PROXY_PORT" -conns 2 -duration 500ms >/dev/null # warm-up
	t0=$(cpu_ticks "$proxy_pid")
	out=$(taskset -c "$LOAD_CORE" "$tmp/l4load" tput -addr "127.0.0.1:$PROXY_PORT" -conns "$TPUT_CONNS" -duration "$DURATION")
	t1=$(cpu_ticks "$proxy_pid")
	read -r _ bytes _ secs <<<"$out"
	sum[$p.mbs]=$(awk -v a="${sum[$p.mbs]:-0}" -v b="$bytes" -v s="$secs" 'BEGIN{printf "%.3f", a + b/s/1e6}')
	sum[$p.cpugb]=$(awk -v a="${sum[$p.cpugb]:-0}" -v t=$((t1 - t0)) -v hz="$hz" -v b="$bytes" 'BEGIN{printf "%.4f", a + (t/hz)/(b/1e9)}')
	t0=$(cpu_ticks "$proxy_pid")
	out=$(taskset -c "$LOAD_CORE" "$tmp/l4load" rate -addr "127.0.0.1:$PROXY_PORT" -conns "$RATE_CONNS" -duration "$DURATION")
	t1=$(cpu_ticks "$proxy_pid")
	read -r _ conns _ errs _ secs <<<"$out"
	sum[$p.cps]=$(awk -v a="${sum[$p.cps]:-0}" -v c="$conns" -v s="$secs" 'BEGIN{printf "%.1f", a + c/s}')
	sum[$p.cpuconn]=$(awk -v a="${sum[$p.cpuconn]:-0}" -v t=$((t1 - t0)) -v hz="$hz" -v c="$conns" 'BEGIN{printf "%.2f", a + (c ? (t/hz)/c*1e6 : 0)}')
	sum[$p.errs]=$((${sum[$p.errs]:-0} + errs))
	log "$p: $(awk -v b="$bytes" -v s="$secs" 'BEGIN{printf "%.0f MB/s", b/s/1e6}'), $(awk -v c="$conns" -v s="$secs" 'BEGIN{printf "%.0f conn/s", c/s}') ($errs errors)"
	stop_proxy
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
read -ra order <<<"$PROXIES"
for ((r = 1; r <= ROUNDS; r++)); do
	log "round $r/$ROUNDS"
	n=${#order[@]}
	for ((i = 0; i < n; i++)); do
		measure "${order[$(((i + r - 1) % n))]}"
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

base=haproxy
report=$tmp/report.md
{
	echo "L4 (TCP) proxy, one pinned core each; mean of $ROUNDS interleaved rounds of $DURATION"
	echo "throughput: $TPUT_CONNS connections streaming 256 KiB writes; rate: $RATE_CONNS workers, connect + 1 byte each way + close"
	echo "load average before: $load_before, after: $load_after"
	echo
	echo "| proxy | MB/s | CPU s/GB | conn/s | CPU µs/conn | errors | CPU/GB vs HAProxy | CPU/conn vs HAProxy |"
	echo "|---|---|---|---|---|---|---|---|"
	for p in "${order[@]}"; do
		awk -v p="$p" -v r="$ROUNDS" -v mbs="${sum[$p.mbs]}" -v gb="${sum[$p.cpugb]}" -v cps="${sum[$p.cps]}" -v cc="${sum[$p.cpuconn]}" \
			-v e="${sum[$p.errs]}" -v bgb="${sum[$base.cpugb]:-0}" -v bcc="${sum[$base.cpuconn]:-0}" 'BEGIN {
			printf "| %s | %.0f | %.3f | %.0f | %.1f | %d | %s | %s |\n", p, mbs/r, gb/r, cps/r, cc/r, e,
				(bgb > 0 ? sprintf("%.2f", gb/bgb) : "-"), (bcc > 0 ? sprintf("%.2f", cc/bcc) : "-") }'
	done
} >"$report"
mkdir -p "$root/bench/results"
cp "$report" "$root/bench/results/l4-latest.md"
cat "$report"
