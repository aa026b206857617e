module github.com/berth-project/berth

go 1.26.8

require (
	github.com/opencontainers/runtime-spec v1.3.0 // indirect
	github.com/seccomp/libseccomp-golang v0.11.1 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
