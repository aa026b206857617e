//go:build !(linux && cgo)

package nsenter

// Supported reports whether this binary can join namespaces by path; a
// build without cgo has no constructor.
func Supported() bool { return false }
