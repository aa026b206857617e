package v1

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The v1 devices controller keeps either "everything allowed but some
// exceptions" or "nothing allowed but some exceptions", and a rule for
// all devices ("a") switches between the two and drops the exceptions.
// Replaying a config's rules ("deny all", then each allowed device) on a
// cgroup whose processes run would deny them /dev/null between the
// first write and the last; so, as runc does, a change from one list of
// allowed devices to another writes only the difference.

// deviceList is the kernel's list in whitelist mode: device
// ("c 1:3", "c 136:*") -> the access it has ("rwm").
type deviceList map[string]string

// parseDeviceList reads devices.list; ok is false when the cgroup allows
// every device (it lists "a *:* rwm"), whose exceptions it does not show.
func parseDeviceList(s string) (deviceList, bool) {
	out := deviceList{}
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		if f[0] == "a" {
			return nil, false
		}
		out[f[0]+" "+f[1]] = f[2]
	}
	return out, true
}

// apply plays rules on a whitelist, as the kernel would; ok is false
// when they leave every device allowed (a rule allowing all).
func (l deviceList) apply(rules []specs.LinuxDeviceCgroup) (deviceList, bool) {
	out := deviceList{}
	for k, v := range l {
		out[k] = v
	}
	for _, r := range rules {
		f := strings.Fields(DeviceRule(r)) // "c 1:3 rwm"
		if len(f) != 3 {
			continue // DeviceRule writes three fields: not reached
		}
		typ, dev, access := f[0], f[1], f[2]
		if typ == "a" {
			if r.Allow {
				return nil, false
			}
			out = deviceList{}
			continue
		}
		key := typ + " " + dev
		if r.Allow {
			out[key] = accessUnion(out[key], access)
		} else if rest := accessMinus(out[key], access); rest == "" {
			delete(out, key)
		} else {
			out[key] = rest
		}
	}
	return out, true
}

// deviceWrites are the writes that turn the list cur into want: the
// new access first, so that nothing still wanted is missing at any time.
func deviceWrites(cur, want deviceList) (allow, deny []string) {
	for k, a := range want {
		if add := accessMinus(a, cur[k]); add != "" {
			allow = append(allow, k+" "+add)
		}
	}
	for k, a := range cur {
		if drop := accessMinus(a, want[k]); drop != "" {
			deny = append(deny, k+" "+drop)
		}
	}
	return allow, deny
}

func accessUnion(a, b string) string {
	var out []byte
	for _, c := range []byte("rwm") {
		if strings.IndexByte(a, c) >= 0 || strings.IndexByte(b, c) >= 0 {
			out = append(out, c)
		}
	}
	return string(out)
}

func accessMinus(a, b string) string {
	var out []byte
	for _, c := range []byte("rwm") {
		if strings.IndexByte(a, c) >= 0 && strings.IndexByte(b, c) < 0 {
			out = append(out, c)
		}
	}
	return string(out)
}
