package state

import (
	"os"
	"path/filepath"
	"testing"
)

func TestValidateIDRejectsPathsAndEmpty(t *testing.T) {
	for _, id := range []string{"", ".", "..", "../x", "a/b", "x y", "a\x00b"} {
		if ValidateID(id) == nil {
			t.Errorf("ValidateID(%q) = nil, want error", id)
		}
	}
	for _, id := range []string{"abc", "a-b_c.d+e", "0123456789abcdef"} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v", id, err)
		}
	}
}

func TestSaveLoadRoundTripAndListSkipsJunk(t *testing.T) {
	s := Store{Root: t.TempDir()}
	if err := os.MkdirAll(s.Dir("c1"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(&Container{ID: "c1", Bundle: "/b", Pid: 42}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Load("c1")
	if err != nil || c.Pid != 42 || c.Bundle != "/b" {
		t.Fatalf("Load = %+v, %v", c, err)
	}
	os.WriteFile(filepath.Join(s.Root, "file"), nil, 0o600)
	ids, err := s.List()
	if err != nil || len(ids) != 1 || ids[0] != "c1" {
		t.Fatalf("List = %v, %v", ids, err)
	}
	if _, err := s.Load("nope"); err == nil {
		t.Fatal("Load of unknown id succeeded")
	}
}

func TestWriteFileAtomicLeavesNoTempFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for i := 0; i < 3; i++ {
		if err := WriteFileAtomic(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("dir holds %d entries, want 1", len(ents))
	}
}

func TestWriteFileVolatileSwapsInTheNewContents(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, want := range []string{"first", "second, longer", "3"} {
		if err := WriteFileVolatile(p, []byte(want), 0o640); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != want {
			t.Fatalf("read %q, want %q", got, want)
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("dir holds %d entries, want 1 (the old contents must go)", len(ents))
	}
}

func TestReadProcStatSelf(t *testing.T) {
	st, err := ReadProcStat(os.Getpid())
	if err != nil || st.StartTime == 0 {
		t.Fatalf("ReadProcStat(self) = %+v, %v", st, err)
	}
	if !Alive(os.Getpid(), st.StartTime) || Alive(os.Getpid(), st.StartTime+1) {
		t.Fatal("Alive disagrees with the start time")
	}
}

func TestCreatingStateIsReadUntilTheFinalOneIsSaved(t *testing.T) {
	s := Store{Root: t.TempDir()}
	os.MkdirAll(s.Dir("c"), 0o700)
	if err := s.Save(&Container{ID: "c", Creating: true}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Load("c"); err != nil || !c.Creating {
		t.Fatalf("Load while creating = %+v, %v", c, err)
	}
	if err := s.Save(&Container{ID: "c", Pid: 9}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Load("c"); err != nil || c.Creating || c.Pid != 9 {
		t.Fatalf("Load after create = %+v, %v", c, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir("c"), CreatingFile)); !os.IsNotExist(err) {
		t.Fatal("creating.json left behind")
	}
}
