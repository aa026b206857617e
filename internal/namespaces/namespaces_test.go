package namespaces

import (
	"os"
	"testing"
)

func TestListFindsOurOwnNamespaces(t *testing.T) {
	nss, err := List([]string{"net", "uts"})
	if err != nil {
		t.Fatal(err)
	}
	own, err := Inode(os.Getpid(), "net")
	if err != nil {
		t.Skip("no /proc/self/ns here")
	}
	for _, ns := range nss {
		if ns.Type == "net" && ns.Inode == own && ns.NProcs >= 1 && ns.Pid > 0 {
			return
		}
	}
	t.Fatalf("own net namespace %d not listed", own)
}

func TestListRejectsUnknownTypes(t *testing.T) {
	if _, err := List([]string{"bogus"}); err == nil {
		t.Fatal("accepted")
	}
}
