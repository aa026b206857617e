// Package console owns the container's terminal: a pty allocated inside
// the container (so its slave lives in the container's devpts), the
// master handed to the caller over a unix socket with SCM_RIGHTS, as
// runc's --console-socket protocol does.
package console

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// OpenPty opens a new pty through /dev/ptmx (the container's, after
// pivot_root) and returns the master and the slave.
func OpenPty() (master, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		_ = unix.Close(mfd) // the master of a pty that failed to open: nothing else holds it
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	// TIOCGPTPEER opens the slave through the master, never by a path
	// that a process in the container could have swapped.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	sfd := int(r)
	if errno == 0 {
		n, _ := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
		return os.NewFile(uintptr(mfd), "/dev/ptmx"), os.NewFile(uintptr(sfd), "/dev/pts/"+strconv.Itoa(n)), nil
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		_ = unix.Close(mfd) // the master of a pty that failed to open: nothing else holds it
		return nil, nil, fmt.Errorf("get pty number: %w", err)
	}
	name := "/dev/pts/" + strconv.Itoa(n)
	sfd, err = unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = unix.Close(mfd) // the master of a pty that failed to open: nothing else holds it
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	return os.NewFile(uintptr(mfd), "/dev/ptmx"), os.NewFile(uintptr(sfd), name), nil
}

// SetSize sets a terminal's window size.
func SetSize(f *os.File, width, height uint) error {
	ws := &unix.Winsize{Col: uint16(width), Row: uint16(height)}
	if err := unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, ws); err != nil {
		return fmt.Errorf("set console size: %w", err)
	}
	return nil
}

// SendFd sends f over the connected unix socket sock, named as runc names
// it (the pty path), which is what containerd and conmon expect.
func SendFd(sock *os.File, f *os.File) error {
	oob := unix.UnixRights(int(f.Fd()))
	if err := unix.Sendmsg(int(sock.Fd()), []byte(f.Name()), oob, nil, 0); err != nil {
		return fmt.Errorf("send console fd: %w", err)
	}
	return nil
}

// RecvFd receives one fd sent by SendFd.
func RecvFd(sock *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive console fd: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receive console fd: no fd in message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("receive console fd: %v", err)
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}

// DialSocket connects to a --console-socket path and returns the
// connection as a file to pass to init.
func DialSocket(path string) (*os.File, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to console socket %s: %w", path, err)
	}
	defer c.Close() // the socket: the descriptor sent is what matters
	f, err := c.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("console socket %s: %w", path, err)
	}
	return f, nil
}

// MakeRaw puts f in raw mode when it is a terminal and returns the
// function that restores it.
func MakeRaw(f *os.File) func() {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	_ = unix.IoctlSetTermios(fd, unix.TCSETS, &raw)                  // a terminal that refuses raw mode stays cooked: input is echoed, no more
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) } // as above
}

// Size returns a terminal's rows and columns; ok is false when f is not
// a terminal.
func Size(f *os.File) (rows, cols uint16, ok bool) {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0, false
	}
	return ws.Row, ws.Col, true
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
