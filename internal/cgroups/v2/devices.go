package v2

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgroup v2 has no devices controller: access to device nodes is decided
// by an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the
// cgroup. DeviceFilter compiles the spec's rules into one; the kernel
// calls it with (access<<16 | type, major, minor) and it returns 1 to
// allow, 0 to deny.
//
// Rules are checked from the last to the first and the first match
// decides, which gives the v1 semantics of replaying the list in order.
// No match denies.

// BPF instruction encoding (linux/bpf.h, linux/bpf_common.h).
const (
	ldxMemW = 0x61 // dst = *(u32 *)(src + off)
	movK    = 0xb7 // dst = imm (64-bit)
	movX    = 0xbf // dst = src
	andK    = 0x57 // dst &= imm
	rshK    = 0x77 // dst >>= imm
	jneK    = 0x55 // if dst != imm goto +off
	exit    = 0x95

	devBlock = 1 // BPF_DEVCG_DEV_BLOCK
	devChar  = 2 // BPF_DEVCG_DEV_CHAR
	accMknod = 1 // BPF_DEVCG_ACC_MKNOD
	accRead  = 2
	accWrite = 4
)

type insn struct {
	code     uint8
	dst, src uint8
	off      int16
	imm      int32
}

func (i insn) bytes() []byte {
	b := make([]byte, 8)
	b[0] = i.code
	b[1] = i.dst&0xf | i.src<<4
	binary.LittleEndian.PutUint16(b[2:], uint16(i.off))
	binary.LittleEndian.PutUint32(b[4:], uint32(i.imm))
	return b
}

// DeviceFilter compiles rules into the program's instructions, as bytes.
func DeviceFilter(rules []specs.LinuxDeviceCgroup) ([]byte, error) {
	// r2 = type, r3 = access, r4 = major, r5 = minor
	prog := []insn{
		{code: ldxMemW, dst: 2, src: 1, off: 0},
		{code: movX, dst: 3, src: 2},
		{code: andK, dst: 2, imm: 0xffff},
		{code: rshK, dst: 3, imm: 16},
		{code: ldxMemW, dst: 4, src: 1, off: 4},
		{code: ldxMemW, dst: 5, src: 1, off: 8},
	}
	matchesAll := false
	for i := len(rules) - 1; i >= 0 && !matchesAll; i-- {
		block, err := ruleBlock(rules[i])
		if err != nil {
			return nil, err
		}
		prog = append(prog, block...)
		// A rule without conditions ends the program: the verifier
		// refuses code that can never run.
		matchesAll = len(block) == 2
	}
	if !matchesAll {
		prog = append(prog, insn{code: movK, dst: 0, imm: 0}, insn{code: exit})
	}
	var out []byte
	for _, in := range prog {
		out = append(out, in.bytes()...)
	}
	return out, nil
}

// ruleBlock tests one rule; on a match it returns the rule's verdict,
// otherwise it jumps to the next block.
func ruleBlock(r specs.LinuxDeviceCgroup) ([]insn, error) {
	var block []insn
	var checks []int // indexes of the jumps taken on a mismatch
	check := func(in insn) {
		checks = append(checks, len(block))
		block = append(block, in)
	}
	switch r.Type {
	case "", "a":
	case "c":
		check(insn{code: jneK, dst: 2, imm: devChar})
	case "b":
		check(insn{code: jneK, dst: 2, imm: devBlock})
	default:
		return nil, fmt.Errorf("device rule: unknown type %q", r.Type)
	}
	acc := int32(0)
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	for _, c := range access {
		switch c {
		case 'r':
			acc |= accRead
		case 'w':
			acc |= accWrite
		case 'm':
			acc |= accMknod
		default:
			return nil, fmt.Errorf("device rule: unknown access %q", access)
		}
	}
	if acc != accRead|accWrite|accMknod {
		// It matches when every requested access is in the rule.
		block = append(block, insn{code: movX, dst: 6, src: 3}, insn{code: andK, dst: 6, imm: ^acc & 7})
		check(insn{code: jneK, dst: 6, imm: 0})
	}
	if r.Major != nil && *r.Major >= 0 {
		check(insn{code: jneK, dst: 4, imm: int32(*r.Major)})
	}
	if r.Minor != nil && *r.Minor >= 0 {
		check(insn{code: jneK, dst: 5, imm: int32(*r.Minor)})
	}
	verdict := int32(0)
	if r.Allow {
		verdict = 1
	}
	block = append(block, insn{code: movK, dst: 0, imm: verdict}, insn{code: exit})
	for _, i := range checks {
		block[i].off = int16(len(block) - i - 1) // to the first instruction after the block
	}
	return block, nil
}

// loadDeviceFilter loads a device program; with logLevel 1 the error
// carries the verifier's log.
func loadDeviceFilter(code []byte, logLevel uint32) (uintptr, error) {
	license := []byte("Apache-2.0\x00")
	logBuf := make([]byte, 1<<20)
	// union bpf_attr, BPF_PROG_LOAD part.
	var attr [128]byte
	binary.LittleEndian.PutUint32(attr[0:], unix.BPF_PROG_TYPE_CGROUP_DEVICE)
	binary.LittleEndian.PutUint32(attr[4:], uint32(len(code)/8))
	binary.LittleEndian.PutUint64(attr[8:], uint64(uintptr(unsafe.Pointer(&code[0]))))
	binary.LittleEndian.PutUint64(attr[16:], uint64(uintptr(unsafe.Pointer(&license[0]))))
	if logLevel > 0 {
		binary.LittleEndian.PutUint32(attr[24:], logLevel)
		binary.LittleEndian.PutUint32(attr[28:], uint32(len(logBuf)))
		binary.LittleEndian.PutUint64(attr[32:], uint64(uintptr(unsafe.Pointer(&logBuf[0]))))
	}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	runtime.KeepAlive(logBuf)
	if errno != 0 {
		return 0, fmt.Errorf("load the device filter: %w: %s", errno, lastLines(cString(logBuf), 3))
	}
	return fd, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

// attachDeviceFilter loads the program for rules and attaches it to the
// cgroup directory dir. BPF_F_ALLOW_MULTI lets it sit beside programs a
// parent cgroup has (every one must allow).
func attachDeviceFilter(dir string, rules []specs.LinuxDeviceCgroup) error {
	code, err := DeviceFilter(rules)
	if err != nil {
		return err
	}
	fd, err := loadDeviceFilter(code, 0)
	if err != nil {
		// Again with the verifier's log, to say why. (Asking for the log
		// on every load fails a valid program with ENOSPC when the log
		// outgrows its buffer, as Docker's twelve rules do.)
		_, err = loadDeviceFilter(code, 1)
		return err
	}
	defer unix.Close(int(fd)) // the program stays attached to the cgroup
	cgfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	defer unix.Close(cgfd) // a directory descriptor of ours
	var att [20]byte
	binary.LittleEndian.PutUint32(att[0:], uint32(cgfd))
	binary.LittleEndian.PutUint32(att[4:], uint32(fd))
	binary.LittleEndian.PutUint32(att[8:], unix.BPF_CGROUP_DEVICE)
	binary.LittleEndian.PutUint32(att[12:], unix.BPF_F_ALLOW_MULTI)
	if _, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_ATTACH, uintptr(unsafe.Pointer(&att[0])), uintptr(len(att))); errno != 0 {
		return fmt.Errorf("attach the device filter to %s: %w", dir, errno)
	}
	return nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
