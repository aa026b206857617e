package stdio

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestCRILogFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pod", "c.log")
	l, err := OpenCRILog(path)
	if err != nil {
		t.Fatal(err)
	}
	out, errs := l.Lines("stdout"), l.Lines("stderr")
	_, _ = out.Write([]byte("one\ntw"))
	_, _ = errs.Write([]byte("oops\n"))
	_, _ = out.Write([]byte("o\n" + strings.Repeat("x", 16<<10+3)))
	out.Flush()
	// The kubelet renamed the file: Reopen writes a new one at the path.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	_, _ = out.Write([]byte("after\n"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path + ".1")
	re := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (stdout|stderr) ([FP]) (.*)$`)
	var got []string
	for _, m := range re.FindAllStringSubmatch(string(old), -1) {
		got = append(got, m[2]+" "+m[3]+" "+strings.ReplaceAll(m[4], strings.Repeat("x", 16<<10), "X16K"))
	}
	want := []string{"stdout F one", "stderr F oops", "stdout F two", "stdout P X16K", "stdout F xxx"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("entries %q, want %q", got, want)
	}
	now, _ := os.ReadFile(path)
	if e, ok := ParseCRILine([]byte(strings.TrimSuffix(string(now), "\n"))); !ok || e.Log != "after\n" || e.Stream != "stdout" {
		t.Fatalf("after the reopen: %q %+v", now, e)
	}
	if _, ok := ParseCRILine([]byte("not a cri line")); ok {
		t.Fatal("a line that is no CRI entry parsed")
	}
}
