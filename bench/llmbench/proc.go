package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// rss is the process's resident memory (VmRSS), in bytes.
func rss(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	check(err)
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// clockTick is the unit of /proc/PID/stat's CPU times (USER_HZ, 100 on Linux everywhere).
const clockTick = 10 * time.Millisecond

// cpuTime is the process's user plus system CPU time so far.
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	check(err)
	// The command name (field 2) may hold spaces; the fields after its ")" do not.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// f[0] is field 3 (state): utime and stime are fields 14 and 15.
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * clockTick
}
