//go:build linux && cgo

package main

// Marks this binary as the berth CLI for nsenter's constructor, which
// then moves an unprivileged user's command into the user's rootless
// namespaces before the Go runtime starts (nsenter.JoinedRootless).
// berth-runtime and berth-cri do not define it.

/*
int berth_rootless_cli = 1;
*/
import "C"
