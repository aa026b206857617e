package hooks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestHookGetsStateOnStdinAndItsArgs(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	h := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$1"; echo " $0" >> "$1"`, "arg0", out}}
	if err := Run("prestart", []specs.Hook{h}, []byte(`{"id":"x"}`)); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	if got := string(data); !strings.HasPrefix(got, `{"id":"x"}`) || !strings.Contains(got, "arg0") {
		t.Fatalf("hook wrote %q", got)
	}
}

func TestHookFailureNamesTheHookAndItsStderr(t *testing.T) {
	h := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo broken >&2; exit 3"}}
	err := Run("createRuntime", []specs.Hook{h}, nil)
	if err == nil || !strings.Contains(err.Error(), "error running hook #0 (createRuntime") || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("err = %v", err)
	}
}

func TestHookTimeout(t *testing.T) {
	one := 1
	h := specs.Hook{Path: "/bin/sleep", Args: []string{"sleep", "10"}, Timeout: &one}
	err := Run("poststart", []specs.Hook{h}, nil)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunAllGoesOnPastAFailure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	hs := []specs.Hook{
		{Path: "/bin/false", Args: []string{"false"}},
		{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + out}},
	}
	if errs := RunAll("poststart", hs, nil); len(errs) != 1 {
		t.Fatalf("errs = %v", errs)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal("second hook did not run")
	}
}
