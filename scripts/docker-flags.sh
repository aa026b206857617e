#!/usr/bin/env bash
# Writes the reference for cmd/berth's flag-table test: every non-Swarm
# command of the docker CLI here (28.2) with its long flags, one
# "COMMAND PATH<TAB>--flag" line each ("-" for a command with none).
# usage: docker-flags.sh > cmd/berth/testdata/docker-28.2-flags.txt
set -eu
export DOCKER_CONFIG=$(mktemp -d); trap 'rm -rf "$DOCKER_CONFIG"' EXIT
skip='^(checkpoint|config|node|plugin|secret|service|stack|swarm|trust|manifest|buildx|compose|scout|init|debug|sbom|ai|offload|model|desktop)$'
flags() { docker "$@" --help 2>/dev/null | sed -n '/^Options:/,/^$/p' | grep -oE '^ +(-[a-zA-Z], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+$' || true; }
subs() { docker "$@" --help 2>/dev/null | sed -n '/^\(Commands\|Common Commands\|Management Commands\):/,/^$/p' | grep -oE '^  [a-z][a-z0-9-]*' | tr -d ' ' || true; }
walk() {
	local cmds; cmds=$(subs "$@")
	if [ -z "$cmds" ]; then
		local f; f=$(flags "$@")
		if [ -z "$f" ]; then printf '%s\t-\n' "$*"; else for x in $f; do printf '%s\t%s\n' "$*" "$x"; done; fi
		return
	fi
	for c in $cmds; do
		[ $# -eq 0 ] && [[ $c =~ $skip ]] && continue
		walk "$@" "$c"
	done
}
walk | sort -u
