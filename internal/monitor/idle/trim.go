package idle

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// TrimResident drops this process's mappings of its own executable's
// code and read-only data: set-up ran much of the binary (the engine's
// 14 MB in a full monitor; the idle stage's JSON, log and socket set-up
// here), and the kernel maps whole large folios of it, so nearly all of
// it stays resident while the monitor idles on a few pages of it. The
// pages stay in the page cache, shared, and what the idle loop runs
// faults back in at once (a minor fault); what was written (data, heap)
// is never touched.
func TrimResident() {
	var self unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &self); err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close() // read only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1][1] == 'w' || fields[1][3] != 'p' {
			continue
		}
		if ino, err := strconv.ParseUint(fields[4], 10, 64); err != nil || ino != self.Ino {
			continue
		}
		start, end, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		lo, err1 := strconv.ParseUint(start, 16, 64)
		hi, err2 := strconv.ParseUint(end, 16, 64)
		if err1 != nil || err2 != nil || hi <= lo {
			continue
		}
		// NOHUGEPAGE first: else the next touch maps a whole 2 MB folio
		// of the binary back in one go.
		// Advice: a range the kernel keeps stays resident, and no harm.
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(lo), uintptr(hi-lo), unix.MADV_NOHUGEPAGE)
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(lo), uintptr(hi-lo), unix.MADV_DONTNEED)
	}
}
