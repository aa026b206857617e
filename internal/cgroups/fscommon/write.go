package fscommon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrMissing marks a write to a control file that this kernel or
// hierarchy does not have; callers turn it into a warning where the
// spec allows a best effort (deprecated knobs), and fail otherwise.
var ErrMissing = errors.New("not available on this host")

// WriteFile writes one value to dir/file, naming both on failure.
func WriteFile(dir, file, value string) error {
	p := filepath.Join(dir, file)
	// Never O_CREAT: a control file the kernel lacks must fail as missing.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cgroup file %s: %w", p, ErrMissing)
		}
		return fmt.Errorf("open %s: %w", p, err)
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return nil
}

// Max formats a limit, with -1 and below meaning "unlimited" as v2 and
// pids spell it.
func Max(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

// Warnings collects the settings skipped because the host lacks them.
type Warnings []string

// Soft records err as a warning when the host lacks the knob: the file is
// missing, the kernel says the operation is not supported, or the device
// a per-device rule names does not exist here. Any other error it returns.
func (w *Warnings) Soft(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrMissing) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.EOPNOTSUPP) {
		*w = append(*w, what+" not applied: "+err.Error())
		return nil
	}
	return err
}

// ReadFile reads dir/file.
func ReadFile(dir, file string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, file))
	return string(data), err
}

// EnableControllers turns controllers on in cgroup.subtree_control of
// every ancestor of rel (from the root down), so rel has their files.
func EnableControllers(root, rel string, controllers ...string) error {
	cur := root
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	for _, p := range parts[:len(parts)-1] {
		for _, c := range controllers {
			if err := WriteFile(cur, "cgroup.subtree_control", "+"+c); err != nil {
				return fmt.Errorf("enable the %s controller: %w", c, err)
			}
		}
		cur = filepath.Join(cur, p)
	}
	for _, c := range controllers {
		if err := WriteFile(cur, "cgroup.subtree_control", "+"+c); err != nil {
			return fmt.Errorf("enable the %s controller: %w", c, err)
		}
	}
	return nil
}

// WriteUnified writes raw cgroup2 key/value pairs. Keys are file names in
// the cgroup directory: a path separator would leave it.
func WriteUnified(dir string, kv map[string]string) error {
	for k, v := range kv {
		if strings.ContainsAny(k, "/\x00") || k == "." || k == ".." {
			return fmt.Errorf("unified: invalid key %q", k)
		}
		if err := WriteFile(dir, k, v); err != nil {
			return fmt.Errorf("unified %s: %w", k, err)
		}
	}
	return nil
}
