//go:build !(linux && cgo)

package nsenter

// Supported reports whether this binary can join namespaces by path; a
// build without cgo has no constructor.
func Supported() bool { return false }

// JoinedRootless reports whether the constructor moved this process
// into its user's rootless namespaces; without cgo it never does.
func JoinedRootless() bool { return false }
