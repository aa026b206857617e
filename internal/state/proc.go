package state

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcStat is the part of /proc/PID/stat the runtime needs.
type ProcStat struct {
	State     byte   // R, S, D, Z, T, ...
	StartTime uint64 // clock ticks after boot
}

// ReadProcStat parses /proc/PID/stat. The command name may contain spaces
// and parentheses, so fields are counted from the last ')'.
func ReadProcStat(pid int) (ProcStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ProcStat{}, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return ProcStat{}, fmt.Errorf("parse /proc/%d/stat: no command field", pid)
	}
	fields := bytes.Fields(data[i+2:])
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return ProcStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields))
	}
	st, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return ProcStat{}, fmt.Errorf("parse /proc/%d/stat starttime: %w", pid, err)
	}
	return ProcStat{State: fields[0][0], StartTime: st}, nil
}

// Alive reports whether pid is still the process that started at
// startTime and has not exited (a zombie counts as exited).
func Alive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := ReadProcStat(pid)
	if err != nil {
		return false
	}
	return st.StartTime == startTime && st.State != 'Z' && st.State != 'X'
}

// InUserNamespace reports whether the caller runs in a user namespace
// other than the host's (rootless): the host's maps every id to itself.
func InUserNamespace() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}
