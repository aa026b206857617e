// Package syncproto defines the typed messages that the runtime (parent)
// and the container's init stage (child) exchange over their socketpair
// while a container is created.
//
// Every message is a 4-byte big-endian length followed by that many bytes
// of JSON. The C namespace joiner (internal/nsenter) writes the same frame
// for its two messages (MsgPid, MsgError), so the parent reads one format.
//
//	parent                                   init (in the new namespaces)
//	  |                                         |  [nsenter: setns/unshare/fork,
//	  | <------------------ MsgPid (only if it forked) ------ MsgError on failure]
//	  |  cgroups joined, maps written           |
//	  | ---- MsgBootstrap (spec, rootfs, ...) ->|
//	  |                                         |  mounts, devices
//	  | <------------- MsgRuntimeHooks ---------|  (only when prestart/createRuntime hooks exist)
//	  |  run prestart + createRuntime hooks     |
//	  | ------------- MsgHooksDone ------------>|
//	  |                                         |  createContainer hooks, pivot_root,
//	  |                                         |  masks, console, user, caps
//	  | <------------- MsgReady ----------------|
//	  |  state "created", pid file, exit        |  block on exec.fifo until start
//
// Any step of the child may instead send MsgError with the reason, as text,
// and exit; the parent prints that text as the create error.
//
// A child started with nsenter.PlanEnv has no Go stage: instead of
// MsgBootstrap it reads one frame holding an nsenter.Plan (WriteFrame),
// and answers MsgReady or MsgError from C.
package syncproto

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/seccomp"
)

// Type names a message.
type Type string

// The messages, in the order they normally travel.
const (
	MsgPid          Type = "pid"
	MsgBootstrap    Type = "bootstrap"
	MsgRuntimeHooks Type = "runtime-hooks"
	MsgHooksDone    Type = "hooks-done"
	MsgReady        Type = "ready"
	MsgError        Type = "error"
)

// Message is one frame. Only the fields that belong to its Type are set.
type Message struct {
	Type  Type   `json:"type"`
	Pid   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"` // with MsgError: the exit code a shell would give

	Bootstrap *Bootstrap `json:"bootstrap,omitempty"`
}

// Bootstrap is everything init needs to finish the container.
type Bootstrap struct {
	ID     string      `json:"id"`
	Bundle string      `json:"bundle"`
	Rootfs string      `json:"rootfs"` // absolute path in the runtime's mount namespace
	Spec   *specs.Spec `json:"spec"`
	// State is the spec state JSON the createContainer hooks get on stdin.
	State []byte `json:"state"`
	// Exec: this process joins a running container; Spec.Process is
	// what to run and nothing else of Spec applies.
	Exec bool `json:"exec,omitempty"`
	// NoPivot asks for MS_MOVE + chroot instead of pivot_root.
	NoPivot bool `json:"no_pivot,omitempty"`
	// Seccomp is the compiled filter of Spec.Linux.Seccomp: the runtime
	// compiles it (or reads it from its cache), init only installs it.
	Seccomp *seccomp.Program `json:"seccomp,omitempty"`
	// NoNewKeyring keeps the caller's session keyring instead of a new
	// one named after the container.
	NoNewKeyring bool `json:"no_new_keyring,omitempty"`
	// NewCgroupNS: init unshares the cgroup namespace itself, after the
	// parent has placed it in its cgroups, so the namespace root is the
	// container's cgroup rather than the runtime's.
	NewCgroupNS bool `json:"new_cgroupns,omitempty"`
	// NewTimeNS: init unshares the time namespace and writes the offsets
	// before its execve moves it in (offsets are frozen once a process is
	// inside).
	NewTimeNS bool `json:"new_timens,omitempty"`
	// CgroupTasks are the v1 tasks files init writes "0" to, joining its
	// cgroups itself before anything else (see cgroups.Manager).
	CgroupTasks []string `json:"cgroup_tasks,omitempty"`
	// CgroupTasksLast are joined the same way just before ready (the
	// memory hierarchy: what init allocates after joining it is charged
	// to the container, so it joins when its work is done).
	CgroupTasksLast []string `json:"cgroup_tasks_last,omitempty"`
	// CgroupPaths maps a hierarchy (v1 controller list or "" for v2) to
	// the container's cgroup directory on the host, for cgroup mounts.
	CgroupPaths map[string]string `json:"cgroup_paths,omitempty"`
	// InUserNS: devices are bind-mounted, not made with mknod.
	InUserNS bool `json:"in_userns,omitempty"`
	// MountSources are the bind mounts (by index in the spec's mounts)
	// whose source the parent opened inside init's mount namespace and
	// sends, one SendFd each in this order, right after the bootstrap.
	MountSources []int `json:"mount_sources,omitempty"`
	// Fds passed to init besides stdio: the preserved ones come first.
	PreserveFDs int `json:"preserve_fds,omitempty"`
	FifoFD      int `json:"fifo_fd"`
	ConsoleFD   int `json:"console_fd,omitempty"` // -1 when no console socket
}

// Write sends one message.
func Write(w io.Writer, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", m.Type, err)
	}
	buf := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[4:], body)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("send %s message: %w", m.Type, err)
	}
	return nil
}

// WriteFrame sends body in the frame of a message that is not JSON: the
// C start stage's plan (see nsenter.PlanEnv).
func WriteFrame(w io.Writer, body []byte) error {
	buf := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[4:], body)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("send start plan: %w", err)
	}
	return nil
}

// maxMessage bounds a frame so a corrupt length cannot make us allocate
// gigabytes.
const maxMessage = 64 << 20

// ErrClosed is returned by Read when the peer closed the channel between
// messages (for the parent: init died without a word).
var ErrClosed = errors.New("sync channel closed")

// Read receives one message.
func Read(r io.Reader) (Message, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return Message{}, ErrClosed
		}
		return Message{}, fmt.Errorf("read sync message: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxMessage {
		return Message{}, fmt.Errorf("read sync message: frame of %d bytes is too large", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return Message{}, fmt.Errorf("read sync message body: %w", err)
	}
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return Message{}, fmt.Errorf("decode sync message: %w", err)
	}
	return m, nil
}

// Expect reads one message and checks its type. A MsgError from the peer
// becomes an error carrying the peer's own words.
func Expect(r io.Reader, want Type) (Message, error) {
	m, err := Read(r)
	if err != nil {
		return m, err
	}
	if m.Type == MsgError {
		return m, errors.New(m.Error)
	}
	if m.Type != want {
		return m, fmt.Errorf("sync: got %q message, want %q", m.Type, want)
	}
	return m, nil
}

// MsgSeccompFd announces that the listener fd of a seccomp filter with
// SCMP_ACT_NOTIFY follows (SendFd); the parent hands it to the agent at
// linux.seccomp.listenerPath.
const MsgSeccompFd Type = "seccomp-fd"

// SendFd sends one fd with a one-byte payload, so the reader's recvmsg
// takes exactly that byte and no part of the next frame.
func SendFd(sock *os.File, fd int) error {
	if err := unix.Sendmsg(int(sock.Fd()), []byte{'F'}, unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("send fd: %w", err)
	}
	return nil
}

// RecvFd receives an fd sent by SendFd.
func RecvFd(sock *os.File) (*os.File, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive fd: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("receive fd: no fd in the message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, errors.New("receive fd: no fd in the message")
	}
	return os.NewFile(uintptr(fds[0]), "received-fd"), nil
}
