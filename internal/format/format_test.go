package format

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

type row struct {
	Repository, Tag, ID string
	Labels              []string
}

func TestTableAndTemplates(t *testing.T) {
	var b bytes.Buffer
	p, err := NewPrinter(&b, "", "table {{.Repository}}\t{{.ID}}", map[string]string{"ID": "IMAGE ID"})
	if err != nil {
		t.Fatal(err)
	}
	p.Row(row{Repository: "busybox", ID: "abc"})
	p.Flush()
	if want := "REPOSITORY   IMAGE ID\nbusybox      abc\n"; b.String() != want {
		t.Fatalf("table = %q, want %q", b.String(), want)
	}
	b.Reset()
	p, _ = NewPrinter(&b, `{{upper .Repository}}:{{join .Labels ","}} {{json .Labels}} {{truncate .ID 2}}`, "", nil)
	p.Row(row{Repository: "a", ID: "abc", Labels: []string{"x", "y"}})
	if got := b.String(); got != "A:x,y [\"x\",\"y\"] ab\n" {
		t.Fatalf("template = %q", got)
	}
	if _, err := NewPrinter(&b, "{{.Bad", "", nil); err == nil || !strings.Contains(err.Error(), "template parsing error") {
		t.Fatalf("bad template = %v", err)
	}
}

func TestSizeAndAgo(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 1234567: "1.23MB", 4_300_000_000: "4.3GB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
	now := time.Now()
	if got := Ago(now.Add(-3*time.Hour), now); got != "3 hours ago" {
		t.Errorf("Ago = %q", got)
	}
	if got := Ago(now.Add(-20*24*time.Hour), now); got != "2 weeks ago" {
		t.Errorf("Ago = %q", got)
	}
}
