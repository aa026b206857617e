//go:build linux && cgo

package tinyinit

// PID 1 in C, before the Go runtime starts: a Go PID 1 dies of a SIGTERM
// that comes before it has called signal.Notify (the runtime's default
// for it is to exit, status 2), and a container started with --init and
// stopped at once got exactly that. The Go runtime's start takes a
// millisecond or more, the C one none; it also leaves the container's
// memory cgroup a Go heap lighter. glibc passes constructors argc and
// argv.

/*
#cgo CFLAGS: -Wall -O2
extern void berth_tinyinit(int argc, char **argv);
void __attribute__((constructor)) berth_tinyinit_init(int argc, char **argv) { berth_tinyinit(argc, argv); }
*/
import "C"
