# Sourced by the scripts that build a tool from a copy of its Go module
# (`go install` refuses some: exclude directives; a test binary needs
# `go test -c` in the module): module_copy MODULE@VERSION puts a
# writable copy of the module, out of the Go module proxy, at $src/mod.
# $src goes when the script exits.
module_copy() {
	src=$(mktemp -d)
	trap 'chmod -R u+w "$src"; rm -rf "$src"' EXIT
	unset GOEXPERIMENT
	export GOFLAGS=-mod=mod CGO_ENABLED=0
	dir=$(cd "$src" && go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -d "$dir" ] || { echo "$(basename "$0"): the module proxy did not give $1" >&2; exit 1; }
	cp -r "$dir/." "$src/mod"
	chmod -R u+w "$src/mod"
}
