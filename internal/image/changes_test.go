package image

import (
	"reflect"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestApplyChanges(t *testing.T) {
	var c v1.Config
	err := ApplyChanges(&c, []string{
		`CMD ["sh", "-c", "echo hi"]`,
		`ENTRYPOINT /init --flag`,
		`ENV A=1 B="two words"`,
		`ENV OLD style value`,
		`ENV A=3`,
		`LABEL org.x=y`,
		`EXPOSE 80 53/udp`,
		`VOLUME ["/data", "/logs"]`,
		`USER 1000:1000`,
		`WORKDIR /srv`,
		`STOPSIGNAL SIGQUIT`,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := v1.Config{
		Cmd:          []string{"sh", "-c", "echo hi"},
		Entrypoint:   []string{"/bin/sh", "-c", "/init --flag"},
		Env:          []string{"A=3", "B=two words", "OLD=style value"},
		Labels:       map[string]string{"org.x": "y"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}},
		Volumes:      map[string]struct{}{"/data": {}, "/logs": {}},
		User:         "1000:1000", WorkingDir: "/srv", StopSignal: "SIGQUIT",
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	for _, bad := range []string{"FROM x", "CMD", `ENV A="open`, "ENV =x"} {
		if err := ApplyChanges(&c, []string{bad}); err == nil {
			t.Errorf("change %q accepted", bad)
		}
	}
}
