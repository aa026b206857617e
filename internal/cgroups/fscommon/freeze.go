package fscommon

import (
	"fmt"
	"strings"
	"time"
)

// WaitFor polls dir/file until check accepts its content: freezing is
// asynchronous in both cgroup versions.
func WaitFor(dir, file string, check func(string) bool) error {
	delay := 50 * time.Microsecond
	for deadline := time.Now().Add(10 * time.Second); ; {
		v, err := ReadFile(dir, file)
		if err != nil {
			return fmt.Errorf("read %s/%s: %w", dir, file, err)
		}
		if check(strings.TrimSpace(v)) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/%s still %q after 10s", dir, file, strings.TrimSpace(v))
		}
		time.Sleep(delay)
		if delay < 10*time.Millisecond {
			delay *= 2
		}
	}
}

// Freeze2 freezes or thaws a cgroup2 directory and waits until
// cgroup.events says it is done.
func Freeze2(dir string, frozen bool) error {
	v, want := "0", "frozen 0"
	if frozen {
		v, want = "1", "frozen 1"
	}
	if err := WriteFile(dir, "cgroup.freeze", v); err != nil {
		return err
	}
	return WaitFor(dir, "cgroup.events", func(s string) bool { return strings.Contains(s, want) })
}

// Frozen2 reports whether a cgroup2 directory is frozen.
func Frozen2(dir string) (bool, error) {
	s, err := ReadFile(dir, "cgroup.freeze")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(s) == "1", nil
}
