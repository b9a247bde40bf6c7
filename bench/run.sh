#!/usr/bin/env bash
# Same-run comparison of aya, nginx and HAProxy as HTTP reverse proxies on one pinned core.
# See bench/README.md. Settings come from the environment:
#   ROUNDS=3 DURATION=10s WARMUP=2s             rounds, and the length of each measured run
#   H1=1 CONNS=64                               HTTP/1.1 part (wrk); H1=0 skips it
#   H2=1 H2_CLIENTS=8 H2_STREAMS=8              HTTP/2 over TLS part (h2load); H2=0 skips it
#   PROXIES="aya nginx haproxy"                 which proxies to measure
#   AYA_BIN=path                                use this aya binary instead of building bin/aya
#   PROXY_CORE=0 LOAD_CORE=1                    proxy on one core; backend and load generator on the other
#   KEEP_TMP=1                                  keep the temp dir (configs, logs, raw outputs)
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-64}
H1=${H1:-1}
H2=${H2:-1}
# 8 connections x 8 streams keeps 64 requests in flight, as in the HTTP/1.1 part: every proxy
# then fits its upstream keep-alive pool (64) and none pays for reconnecting to the backend.
H2_CLIENTS=${H2_CLIENTS:-8}
H2_STREAMS=${H2_STREAMS:-8}
PROXIES=${PROXIES:-aya nginx haproxy}
PROXY_CORE=${PROXY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
KEEP_TMP=${KEEP_TMP:-0}

BACKEND_PORT=18001
PROXY_PORT=18080
TLS_PORT=18443
ADMIN_PORT=19901

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=$root/bench
tmp=
pids=()
last_pid=
failed=()
# shellcheck source=bench/lib.sh
source "$bench/lib.sh"

# --- processes -------------------------------------------------------------------------------

# start_bg CORE NAME CMD...: runs CMD pinned to CORE in the background; sets last_pid.
start_bg() {
	local core=$1 name=$2
	shift 2
	taskset -c "$core" "$@" >"$tmp/$name.out" 2>&1 &
	last_pid=$!
	pids+=("$last_pid")
}

# load OUT CMD...: runs the load generator CMD pinned to LOAD_CORE, output to OUT, and fails
# if it fails or outlives DURATION by a minute (h2load has been seen to hang in -D mode). It
# runs in the background under `wait` because bash defers a trap until a foreground child
# exits, and wrk exits 0 on Ctrl-C, which would let the script carry on instead of stopping.
load() {
	local out=$1 pid rc=0
	shift
	timeout --kill-after=5 "$load_limit" taskset -c "$LOAD_CORE" "$@" >"$out" 2>&1 &
	pid=$!
	pids+=("$pid")
	wait "$pid" || rc=$?
	unset 'pids[${#pids[@]}-1]'
	((rc == 0)) && return 0
	if ((rc == 124 || rc == 137)); then
		log "error: $1 did not finish within ${load_limit}s"
	else
		log "error: $1 failed (exit $rc): $(tail -n 5 "$out")"
	fi
	return 1
}

# seconds DURATION: a wrk/h2load duration (500ms, 10s, 2m, 1h, 10) in whole seconds, rounded up.
seconds() {
	awk -v d="$1" 'BEGIN {
		n = d + 0; u = d; sub(/^[0-9.]+/, "", u)
		f = (u == "ms") ? 0.001 : (u == "m") ? 60 : (u == "h") ? 3600 : 1
		s = n * f; printf "%d", (s == int(s)) ? s : int(s) + 1 }'
}

# stop_last: stops the most recently started process and forgets it.
stop_last() {
	stop_pid "$last_pid"
	unset 'pids[${#pids[@]}-1]'
}


# --- setup -----------------------------------------------------------------------------------

install_tools() {
	local -A pkg=([nginx]=nginx-light [haproxy]=haproxy [wrk]=wrk [h2load]=nghttp2-client
		[openssl]=openssl [curl]=curl [taskset]=util-linux [pgrep]=procps [timeout]=coreutils)
	local missing=() cmd
	for cmd in "${!pkg[@]}"; do
		command -v "$cmd" >/dev/null || missing+=("${pkg[$cmd]}")
	done
	((${#missing[@]} == 0)) && return 0
	[[ $(id -u) == 0 ]] || die "missing ${missing[*]}: run as root or install them with apt-get"
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# resolve_aya sets aya_bin, or drops aya from PROXIES when there is no binary to run.
resolve_aya() {
	aya_bin=${AYA_BIN:-}
	[[ " $PROXIES " == *" aya "* ]] || return 0
	if [[ -z $aya_bin ]]; then
		if command -v go >/dev/null && [[ -d $root/cmd/aya ]] &&
			(cd "$root" && go build -o bin/aya ./cmd/aya) >"$tmp/aya-build.out" 2>&1; then
			aya_bin=$root/bin/aya
		else
			log "warning: cannot build aya (go build -o bin/aya ./cmd/aya failed; output:"
			sed 's/^/    /' "$tmp/aya-build.out" >&2 || true
			log "warning: ...); skipping aya. Set AYA_BIN to use a prebuilt binary."
		fi
	fi
	if [[ -z $aya_bin || ! -x $aya_bin ]]; then
		PROXIES=$(echo " $PROXIES " | sed 's/ aya / /; s/^ *//; s/ *$//')
	fi
}

render() { sed "s|@TMP@|$tmp|g" "$bench/$1" >"$tmp/$2"; }

setup_tmp() {
	tmp=$(mktemp -d /tmp/aya-bench.XXXXXX)
	# nginx workers run as an unprivileged user when started by root and must reach their files.
	chmod 755 "$tmp"
	mkdir -p "$tmp/backend" "$tmp/nginx-proxy"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
	chmod 644 "$tmp/key.pem"
	cat "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/cert+key.pem"
	render nginx-backend.conf.tmpl nginx-backend.conf
	render nginx-proxy.conf.tmpl nginx-proxy.conf
	render haproxy.cfg.tmpl haproxy.cfg
}

check_ports_free() {
	local p
	for p in $BACKEND_PORT $PROXY_PORT $TLS_PORT $ADMIN_PORT; do
		! port_open "$p" || die "port $p is in use; stop whatever listens there (ss -ltnp 'sport = :$p')"
	done
}

# --- proxies ---------------------------------------------------------------------------------

start_backend() {
	start_bg "$LOAD_CORE" backend nginx -e "$tmp/backend/error.log" -p "$tmp/backend" -c "$tmp/nginx-backend.conf" -g 'daemon off;'
	wait_port $BACKEND_PORT backend "$last_pid"
}

# start_proxy NAME PROTO: starts NAME pinned to PROXY_CORE and waits until it serves PROTO.
start_proxy() {
	local name=$1 proto=$2
	case $name in
	aya)
		local cfg=$bench/aya.yaml
		[[ $proto == h2 ]] && cfg=$bench/aya-h2.yaml
		start_bg "$PROXY_CORE" aya env GOMAXPROCS=1 AYA_BENCH_CERT="$tmp/cert.pem" AYA_BENCH_KEY="$tmp/key.pem" \
			"$aya_bin" run -c "$cfg"
		;;
	nginx)
		start_bg "$PROXY_CORE" nginx nginx -e "$tmp/nginx-proxy/error.log" -p "$tmp/nginx-proxy" -c "$tmp/nginx-proxy.conf" -g 'daemon off;'
		;;
	haproxy)
		start_bg "$PROXY_CORE" haproxy haproxy -db -f "$tmp/haproxy.cfg"
		;;
	*) die "unknown proxy $name in PROXIES (known: aya nginx haproxy)" ;;
	esac
	if [[ $proto == h2 ]]; then
		wait_port $TLS_PORT "$name" "$last_pid"
	else
		wait_port $PROXY_PORT "$name" "$last_pid"
	fi
	check_proxy "$name" "$proto"
}

# check_proxy NAME PROTO: one request through the proxy must show both header rules applied,
# so no proxy is measured doing less work than the others.
check_proxy() {
	local name=$1 proto=$2 head
	if [[ $proto == h2 ]]; then
		head=$(curl -sS -k --http2 --max-time 5 -o /dev/null -D - "https://127.0.0.1:$TLS_PORT/") || die "$name: HTTPS request failed"
		grep -qi '^HTTP/2 200' <<<"$head" || die "$name: want an HTTP/2 200 on :$TLS_PORT, got: $head"
	else
		head=$(curl -sS --max-time 5 -o /dev/null -D - "http://127.0.0.1:$PROXY_PORT/") || die "$name: request failed"
		grep -qi '^HTTP/1.1 200' <<<"$head" || die "$name: want HTTP/1.1 200 on :$PROXY_PORT, got: $head"
	fi
	grep -qi "^X-Served-By: $name" <<<"$head" || die "$name: response header rule missing (no X-Served-By: $name): $head"
	grep -qi '^X-Bench-Seen: 1' <<<"$head" || die "$name: request header rule missing (backend did not see X-Bench: 1): $head"
}

# --- measurements ----------------------------------------------------------------------------

# alive NAME: the proxy must have survived the run, or its CPU reading is meaningless. A crash
# is reported with the end of the proxy's output and the other proxies are still measured.
alive() {
	kill -0 "$last_pid" 2>/dev/null && return 0
	log "error: $1 died during the run; the end of its output:"
	tail -n 20 "$tmp/$1.out" | sed 's/^/    /' >&2
	return 1
}

# to_ms converts wrk's latency figures (850.00us, 1.20ms, 1.01s) to milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.3f", n }'
}

cpu_us_per_req() { awk -v t="$1" -v hz="$2" -v n="$3" 'BEGIN { printf "%.2f", (n > 0) ? t / hz * 1e6 / n : 0 }'; }

# measure_h1 NAME ROUND: warm up, then one measured wrk run; appends a row to results.tsv.
measure_h1() {
	local name=$1 round=$2 out=$tmp/wrk-$1-$2.txt before after reqs rps p50 p99 cpu
	load "$out" wrk -t1 -c"$CONNS" -d"$WARMUP" "http://127.0.0.1:$PROXY_PORT/" || return 1
	before=$(cpu_ticks "$last_pid")
	load "$out" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$PROXY_PORT/" || return 1
	after=$(cpu_ticks "$last_pid")
	alive "$name" || return 1
	reqs=$(awk '/ requests in / {print $1}' "$out")
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
	[[ -n $reqs && -n $rps ]] || die "$name: cannot read wrk's output: $(cat "$out")"
	if grep -qE 'Non-2xx|Socket errors' "$out"; then
		log "warning: $name: $(grep -E 'Non-2xx|Socket errors' "$out" | tr -s ' ' | tr '\n' ';')"
	fi
	cpu=$(cpu_us_per_req $((after - before)) "$hz" "$reqs")
	printf 'h1\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$rps" "$p50" "$p99" "$cpu" >>"$tmp/results.tsv"
	log "  $name: $rps req/s, p50 $p50 ms, p99 $p99 ms, $cpu µs CPU/req"
}

# measure_h2 NAME ROUND: like measure_h1 with h2load over TLS; h2load reports the mean latency.
measure_h2() {
	local name=$1 round=$2 out=$tmp/h2load-$1-$2.txt before after reqs rps mean cpu
	local args=(-t1 -c"$H2_CLIENTS" -m"$H2_STREAMS" "https://127.0.0.1:$TLS_PORT/")
	load "$out" h2load -D "$WARMUP" "${args[@]}" || return 1
	before=$(cpu_ticks "$last_pid")
	load "$out" h2load -D "$DURATION" "${args[@]}" || return 1
	after=$(cpu_ticks "$last_pid")
	alive "$name" || return 1
	reqs=$(awk '/^requests:/ {print $8}' "$out")
	rps=$(awk '/^finished in/ {print $4}' "$out")
	mean=$(to_ms "$(awk '/^time for request:/ {print $6}' "$out")")
	[[ -n $reqs && -n $rps ]] || die "$name: cannot read h2load's output: $(cat "$out")"
	if ! grep -qE '^requests:.* 0 failed, 0 errored' "$out"; then
		log "warning: $name: $(grep '^requests:' "$out")"
	fi
	cpu=$(cpu_us_per_req $((after - before)) "$hz" "$reqs")
	printf 'h2\t%s\t%s\t%s\t%s\t-\t%s\n' "$name" "$round" "$rps" "$mean" "$cpu" >>"$tmp/results.tsv"
	log "  $name: $rps req/s, mean $mean ms, $cpu µs CPU/req"
}

# run_rounds PROTO: ROUNDS interleaved rounds; each round rotates the order so no proxy always
# runs first (a cold cache) or last (a warm box).
run_rounds() {
	local proto=$1 round i n name
	local -a list
	read -ra list <<<"$PROXIES"
	n=${#list[@]}
	for ((round = 1; round <= ROUNDS; round++)); do
		log "$proto round $round/$ROUNDS"
		for ((i = 0; i < n; i++)); do
			name=${list[$(((i + round - 1) % n))]}
			start_proxy "$name" "$proto"
			"measure_$proto" "$name" "$round" || failed+=("$proto $name round $round")
			stop_last
		done
	done
}

# --- report ----------------------------------------------------------------------------------

# table PROTO: markdown table of the per-proxy means over rounds, with ratios to nginx.
table() {
	awk -F'\t' -v proto="$1" -v order="$PROXIES" '
	$1 == proto { n[$2]++; rps[$2] += $4; a[$2] += $5; b[$2] += $6; cpu[$2] += $7 }
	END {
		if (proto == "h1") {
			print "| proxy | req/s | p50 ms | p99 ms | CPU µs/req | CPU vs nginx | req/s vs nginx |"
			print "|---|---:|---:|---:|---:|---:|---:|"
		} else {
			print "| proxy | req/s | mean ms | CPU µs/req | CPU vs nginx | req/s vs nginx |"
			print "|---|---:|---:|---:|---:|---:|"
		}
		m = split(order, names, " ")
		for (i = 1; i <= m; i++) {
			p = names[i]; if (!(p in n)) continue
			r = rps[p] / n[p]; c = cpu[p] / n[p]
			cr = "n/a"; rr = "n/a"
			if ("nginx" in n) {
				cr = sprintf("%.2f", c / (cpu["nginx"] / n["nginx"]))
				rr = sprintf("%.2f", r / (rps["nginx"] / n["nginx"]))
			}
			if (proto == "h1")
				printf "| %s | %.0f | %.3f | %.3f | %.2f | %s | %s |\n", p, r, a[p] / n[p], b[p] / n[p], c, cr, rr
			else
				printf "| %s | %.0f | %.3f | %.2f | %s | %s |\n", p, r, a[p] / n[p], c, cr, rr
		}
	}' "$tmp/results.tsv"
}

report() {
	local out=$bench/results/latest.md
	mkdir -p "$bench/results"
	{
		echo "# aya vs nginx vs HAProxy — $(date -u '+%Y-%m-%d %H:%M UTC')"
		echo
		echo "Machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), Linux $(uname -r)."
		echo "Proxy pinned to core $PROXY_CORE (aya with GOMAXPROCS=1, nginx 1 worker, HAProxy nbthread 1);"
		echo "backend nginx and load generator on core $LOAD_CORE. Mean of $ROUNDS interleaved round(s) of $DURATION each."
		echo "Load average before / after: $load_start / $(cut -d' ' -f1-3 /proc/loadavg) (other work on the box skews the numbers)."
		echo "Versions: nginx $(nginx -v 2>&1 | sed 's|.*/||'), HAProxy $(haproxy -v | awk 'NR == 1 {print $3}'), $(wrk -v 2>&1 | awk 'NR == 1 {print $1, $2}')."
		if grep -q '^h1' "$tmp/results.tsv"; then
			echo
			echo "## HTTP/1.1 (wrk -t1 -c$CONNS, keep-alive, 13-byte body)"
			echo
			table h1
		fi
		if grep -q '^h2' "$tmp/results.tsv"; then
			echo
			echo "## HTTP/2 over TLS (h2load -c$H2_CLIENTS -m$H2_STREAMS, HTTP/1.1 keep-alive to the backend)"
			echo
			table h2
		fi
		if ((${#failed[@]} > 0)); then
			echo
			echo "Failed (see the log; not in the tables): $(printf '%s; ' "${failed[@]}" | sed 's/; $//')."
		fi
		echo
		echo "CPU µs/req: the proxy's user+system CPU time during the measured run (all its processes)"
		echo "divided by the requests completed. Lower is better; \"vs nginx\" is the ratio to nginx."
	} >"$out"
	echo
	cat "$out"
	log "wrote ${out#"$root"/}"
}

# --- main ------------------------------------------------------------------------------------

main() {
	install_tools
	setup_tmp
	resolve_aya
	[[ -n ${PROXIES// /} ]] || die "no proxy left to measure (PROXIES=\"${PROXIES}\")"
	check_ports_free
	hz=$(getconf CLK_TCK)
	load_limit=$(($(seconds "$DURATION") + $(seconds "$WARMUP") + 60))
	load_start=$(cut -d' ' -f1-3 /proc/loadavg)
	: >"$tmp/results.tsv"
	log "proxies: $PROXIES; $ROUNDS round(s) of $DURATION after $WARMUP warm-up; H1=$H1 H2=$H2"
	start_backend
	if [[ $H1 != 0 ]]; then
		run_rounds h1
	fi
	if [[ $H2 != 0 ]]; then
		run_rounds h2
	fi
	report
	((${#failed[@]} == 0)) || die "${#failed[@]} run(s) failed: $(printf '%s; ' "${failed[@]}" | sed 's/; $//')"
}

main "$@"
