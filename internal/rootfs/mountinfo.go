package rootfs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// mountPointOf returns the mount point that holds path, from the longest
// matching mount point in /proc/self/mountinfo.
func mountPointOf(path string) (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("read mountinfo: %w", err)
	}
	defer f.Close() // read only
	path = filepath.Clean(path)
	best := "/"
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeOctal(fields[4])
		if (path == mp || strings.HasPrefix(path, mp+"/") || mp == "/") && len(mp) > len(best) {
			best = mp
		}
	}
	return best, sc.Err()
}

// revealingMounts lists the proc and sysfs mounts outside rootfs,
// deepest first. With --no-pivot they stay in the container's mount
// namespace beneath its root; while one is fully visible the kernel
// lets a nested user namespace mount a fresh proc or sysfs, unmasked.
func revealingMounts(rootfs string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	defer f.Close() // read only
	rootfs = filepath.Clean(rootfs)
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 0 || sep+1 >= len(fields) || len(fields) < 5 {
			continue
		}
		mp, typ := unescapeOctal(fields[4]), fields[sep+1]
		if (typ == "proc" || typ == "sysfs") && mp != rootfs && !strings.HasPrefix(mp, rootfs+"/") {
			out = append(out, mp)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out, sc.Err()
}

// unescapeOctal undoes mountinfo's \040-style escapes.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			v := (int(s[i+1]-'0') << 6) | (int(s[i+2]-'0') << 3) | int(s[i+3]-'0')
			b.WriteByte(byte(v))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// IsMountPoint reports whether path is a mount point in this mount
// namespace, by mountinfo: a bind of a directory on the same file
// system has the same device, so stat cannot tell.
func IsMountPoint(path string) (bool, error) {
	mp, err := mountPointOf(path)
	return err == nil && mp == filepath.Clean(path), err
}
