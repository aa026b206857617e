package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/runtime/syncproto"
)

// relaySeccompFd takes the listener fd of a SCMP_ACT_NOTIFY filter from
// the child (MsgSeccompFd) and hands it to the agent listening at
// linux.seccomp.listenerPath, with the process's state, as the
// runtime-spec says: one message, the state as JSON, the fd as
// SCM_RIGHTS. berth keeps no copy.
func relaySeccompFd(sock *os.File, sc *specs.LinuxSeccomp, pid int, st specs.State) error {
	f, err := syncproto.RecvFd(sock)
	if err != nil {
		return fmt.Errorf("seccomp listener: %w", err)
	}
	defer f.Close() // read only
	if sc == nil || sc.ListenerPath == "" {
		return errors.New("seccomp listener: linux.seccomp.listenerPath is not set")
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sc.ListenerPath, Net: "unix"})
	if err != nil {
		return fmt.Errorf("failed to connect with seccomp agent at %s: %w", sc.ListenerPath, err)
	}
	defer conn.Close() // the listener fd was sent over it
	msg, err := json.Marshal(specs.ContainerProcessState{
		Version: specs.Version, Fds: []string{specs.SeccompFdName}, Pid: pid,
		Metadata: sc.ListenerMetadata, State: st,
	})
	if err != nil {
		return err
	}
	if _, _, err := conn.WriteMsgUnix(msg, unix.UnixRights(int(f.Fd())), nil); err != nil {
		return fmt.Errorf("seccomp listener %s: %w", sc.ListenerPath, err)
	}
	return nil
}
