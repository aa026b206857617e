package launch

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestReadPidStopsAtTheLine(t *testing.T) {
	r := strings.NewReader("4242\n{\"running\":true}\n")
	pid, err := readPid(r)
	if err != nil || pid != 4242 {
		t.Fatalf("pid %d, %v", pid, err)
	}
	rest := make([]byte, 64)
	n, _ := r.Read(rest)
	if string(rest[:n]) != "{\"running\":true}\n" {
		t.Errorf("readPid consumed the report: %q left", rest[:n])
	}
	if _, err := readPid(strings.NewReader("")); err == nil {
		t.Error("a monitor that died before its pid must fail")
	}
	if _, err := readPid(strings.NewReader(strings.Repeat("1", 40))); err == nil {
		t.Error("a line that never ends must fail")
	}
}

func TestReportsAreTyped(t *testing.T) {
	if err := (Report{Running: true}).Err(); err != nil {
		t.Errorf("running: %v", err)
	}
	var f *Failure
	err := (Report{Error: `exec: "x": executable file not found in $PATH`, Status: 127}).Err()
	if !errors.As(err, &f) || f.Status != 127 || !strings.Contains(f.Msg, "not found") {
		t.Errorf("a failure keeps its words and status: %v", err)
	}
	if err := (Report{Error: "boom"}).Err(); !errors.As(err, &f) || f.Status != 125 {
		t.Errorf("a failure without a status is 125: %v", err)
	}
}

// TestChildReportsOverThePipe is the monitor's side against the
// starter's decoder: two reports of an exec session, in order.
func TestChildReportsOverThePipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := &Child{rep: w}
	c.Started(77)
	c.ExitedWith(3)
	c.Failed(errors.New("ignored: the report is closed"), 125)
	l := &Launch{report: r}
	l.dec = json.NewDecoder(r)
	first, err := l.Next()
	if err != nil || !first.Running || first.Pid != 77 {
		t.Fatalf("first report: %+v %v", first, err)
	}
	last, err := l.Next()
	if err != nil || !last.Exited || last.ExitCode != 3 {
		t.Fatalf("last report: %+v %v", last, err)
	}
	var f *Failure
	if _, err := l.Next(); !errors.As(err, &f) {
		t.Errorf("no third report: %v", err)
	}
}
