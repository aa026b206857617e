package events

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	mobyevents "github.com/moby/moby/api/types/events"
)

func ev(action string) mobyevents.Message {
	return mobyevents.Message{Type: mobyevents.ContainerEventType, Action: mobyevents.Action(action),
		Actor: mobyevents.Actor{ID: "c1", Attributes: map[string]string{"name": "web"}}}
}

func TestJournalAppendsAndReadsInOrder(t *testing.T) {
	j := Journal{Dir: t.TempDir()}
	for _, a := range []string{"create", "start", "die"} {
		if err := j.Append(ev(a)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err := j.Read(context.Background(), ReadOptions{}, func(m mobyevents.Message) error {
		if m.Scope != "local" || m.TimeNano == 0 || m.Actor.Attributes["name"] != "web" {
			t.Errorf("event lacks its stamp or attributes: %+v", m)
		}
		got = append(got, string(m.Action))
		return nil
	})
	if err != nil || len(got) != 3 || got[0] != "create" || got[2] != "die" {
		t.Fatalf("read %v, %v", got, err)
	}
}

func TestJournalFollowSeesOtherWritersAndRotation(t *testing.T) {
	j := Journal{Dir: t.TempDir()}
	start := time.Now()
	if err := j.Append(ev("old")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- j.Read(ctx, ReadOptions{Since: start, Follow: true}, func(m mobyevents.Message) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, string(m.Action))
			if m.Action == "last" {
				cancel()
			}
			return nil
		})
	}()
	time.Sleep(100 * time.Millisecond)
	if err := j.Append(ev("new")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	// A rotation by another writer: the follower goes on in the new file.
	if err := os.Rename(j.path(), j.previous()); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ev("last")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0] != "old" || got[1] != "new" || got[2] != "last" {
		t.Fatalf("followed %v", got)
	}
}

func TestJournalUntilStops(t *testing.T) {
	j := Journal{Dir: t.TempDir()}
	if err := j.Append(ev("a")); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := j.Read(context.Background(), ReadOptions{Follow: true, Until: time.Now().Add(200 * time.Millisecond)}, func(mobyevents.Message) error {
		n++
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("until: %d events, %v", n, err)
	}
}

func TestJournalLastReadsBackwardsAcrossChunksAndRotation(t *testing.T) {
	j := Journal{Dir: t.TempDir()}
	die := func(id, code string) mobyevents.Message {
		return mobyevents.Message{Type: mobyevents.ContainerEventType, Action: mobyevents.ActionDie,
			Actor: mobyevents.Actor{ID: id, Attributes: map[string]string{"exitCode": code}}}
	}
	isDie := func(id string) func(mobyevents.Message) bool {
		return func(m mobyevents.Message) bool { return m.Action == mobyevents.ActionDie && m.Actor.ID == id }
	}
	start := time.Now()
	if err := j.Append(die("old", "1")); err != nil {
		t.Fatal(err)
	}
	// The old container's event is in the rotated file; enough others
	// follow that the reads cross several 32 KiB chunks.
	if err := os.Rename(j.path(), j.previous()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i++ {
		if err := j.Append(ev("start")); err != nil {
			t.Fatal(err)
		}
		if i == 1000 {
			if err := j.Append(die("c2", "3")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := j.Append(die("c2", "7")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		if err := j.Append(ev("start")); err != nil {
			t.Fatal(err)
		}
	}
	if m, ok, err := j.Last(start, "c2", isDie("c2")); err != nil || !ok || m.Actor.Attributes["exitCode"] != "7" {
		t.Fatalf("the newest die of c2: %+v %v %v", m, ok, err)
	}
	if m, ok, err := j.Last(start, "old", isDie("old")); err != nil || !ok || m.Actor.Attributes["exitCode"] != "1" {
		t.Fatalf("a die in the rotated file: %+v %v %v", m, ok, err)
	}
	if _, ok, err := j.Last(time.Now().Add(time.Hour), "c1", func(mobyevents.Message) bool { return true }); ok || err != nil {
		t.Fatalf("an event older than since was returned: %v %v", ok, err)
	}
	if _, ok, err := j.Last(start, "nosuch", isDie("nosuch")); ok || err != nil {
		t.Fatalf("a container with no events: %v %v", ok, err)
	}
}
