package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

func execOutput(argv ...string) (string, error) {
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	return string(out), err
}

// parentOf returns the parent pid of pid, from /proc/PID/stat.
func parentOf(pid string) string {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+2:]))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// vmRSS returns a process's resident set in KiB.
func vmRSS(pid string) int64 { return statusKB(pid, "status", "VmRSS:") }

// anonKB is a process's private anonymous memory: what each more
// instance of it costs (its binary's pages are shared).
func anonKB(pid string) int64 { return statusKB(pid, "smaps_rollup", "Anonymous:") }

func statusKB(pid, file, key string) int64 {
	data, _ := os.ReadFile("/proc/" + pid + "/" + file)
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, key) {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}
