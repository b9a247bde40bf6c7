# Shared by bench/run.sh and bench/l4.sh (sourced, not run): logging, stopping every process
# a script started, waiting for a port, and reading a process tree's CPU time.
#
# The sourcing script sets pids=() (processes to stop on exit), tmp (its temp dir, or empty)
# and KEEP_TMP before it starts anything.

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# stop_pid PID: TERM, up to 5 s to exit, then KILL (with its children, e.g. nginx's workers).
stop_pid() {
	local pid=$1 kids i
	kill -0 "$pid" 2>/dev/null || return 0
	kids=$(pgrep -P "$pid" || true)
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	# shellcheck disable=SC2086 # kids is a list of pids
	kill -KILL "$pid" $kids 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# Every process the script starts is stopped on exit, whatever the reason (failure, Ctrl-C).
cleanup() {
	local p
	for p in "${pids[@]}"; do
		stop_pid "$p"
	done
	if [[ -n $tmp && -d $tmp ]]; then
		if [[ $KEEP_TMP == 1 ]]; then
			log "kept $tmp"
		else
			rm -rf "$tmp"
		fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port PORT NAME PID: waits until PORT accepts, failing fast (with the process's output)
# if PID died.
wait_port() {
	local port=$1 name=$2 pid=$3 i
	for ((i = 0; i < 200; i++)); do
		port_open "$port" && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$tmp/$name.out" >&2 || true
			die "$name exited before listening on $port (its output is above)"
		fi
		sleep 0.05
	done
	die "$name did not listen on 127.0.0.1:$port within 10 s; see $tmp/$name.out (KEEP_TMP=1 keeps it)"
}

# cpu_ticks PID: user+system clock ticks of PID and its children (nginx's master and workers).
cpu_ticks() {
	local total=0 p line f
	for p in "$1" $(pgrep -P "$1" || true); do
		{ line=$(<"/proc/$p/stat"); } 2>/dev/null || continue
		# Fields after "(comm) " start at field 3; utime and stime are fields 14 and 15.
		read -ra f <<<"${line##*) }"
		total=$((total + f[11] + f[12]))
	done
	echo "$total"
}
