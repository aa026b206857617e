package caps

import "testing"

func TestParseAcceptsNamesWithAndWithoutPrefix(t *testing.T) {
	set, err := Parse([]string{"CAP_CHOWN", "kill", "CAP_SYS_ADMIN"}, 40)
	if err != nil {
		t.Fatal(err)
	}
	want := uint64(1<<0 | 1<<5 | 1<<21)
	if set != want {
		t.Fatalf("Parse = %#x, want %#x", set, want)
	}
}

func TestParseRejectsUnknownAndDropsNewerThanKernel(t *testing.T) {
	if _, err := Parse([]string{"CAP_TEST"}, 40); err == nil {
		t.Fatal("unknown capability accepted")
	}
	set, err := Parse([]string{"CAP_BPF"}, 38)
	if err != nil || set != 0 {
		t.Fatalf("Parse newer cap = %#x, %v", set, err)
	}
}
