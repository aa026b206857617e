package volume

import "testing"

func TestCheckOptions(t *testing.T) {
	dir := t.TempDir()
	for _, ok := range []map[string]string{
		nil,
		{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000"},
		{"type": "none", "device": dir, "o": "bind"},
	} {
		if err := checkOptions(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, bad := range []map[string]string{
		{"size": "1m"},
		{"type": "tmpfs"},
		{"device": "tmpfs"},
		{"type": "none", "device": dir + "/missing", "o": "bind"},
		{"type": "none", "device": "relative", "o": "rbind"},
	} {
		if err := checkOptions(bad); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}
