package syncproto

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoundTripAndErrorMessageCarriesPeerWords(t *testing.T) {
	var b bytes.Buffer
	Write(&b, Message{Type: MsgPid, Pid: 7})
	Write(&b, Message{Type: MsgError, Error: `exec: "nosuch": executable file not found in $PATH`})
	m, err := Expect(&b, MsgPid)
	if err != nil || m.Pid != 7 {
		t.Fatalf("Expect pid = %+v, %v", m, err)
	}
	_, err = Expect(&b, MsgReady)
	if err == nil || err.Error() != `exec: "nosuch": executable file not found in $PATH` {
		t.Fatalf("Expect ready after error = %v", err)
	}
	if _, err := Read(&b); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read on empty = %v, want ErrClosed", err)
	}
}

func TestOversizedFrameIsRejected(t *testing.T) {
	b := bytes.NewBuffer([]byte{0xff, 0xff, 0xff, 0xff})
	if _, err := Read(b); err == nil {
		t.Fatal("oversized frame accepted")
	}
}
