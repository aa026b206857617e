package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// compare prints, for two result files, each peer's median in both and
// the change, scenario by scenario.
func compare(oldPath, newPath string) error {
	load := func(p string) (map[string]scenarioResult, error) {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var doc struct {
			Scenarios []scenarioResult `json:"scenarios"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("parse %s: %w", p, err)
		}
		m := map[string]scenarioResult{}
		for _, s := range doc.Scenarios {
			m[s.ID] = s
		}
		return m, nil
	}
	before, err := load(oldPath)
	if err != nil {
		return err
	}
	after, err := load(newPath)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("| scenario | peer | before | after | change |\n|---|---|---|---|---|\n")
	for _, id := range orderedIDs(after) {
		a := after[id]
		for _, s := range a.Peers {
			if s.Skipped != "" || s.Value != "" {
				continue
			}
			old, ok := find(before[id].Peers, s.Peer)
			if !ok || old.Skipped != "" || old.Median == 0 {
				fmt.Fprintf(&b, "| %s | %s | - | %s | new |\n", a.Title, s.Peer, fmtMs(s.Median))
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %+.1f%% |\n", a.Title, s.Peer, fmtMs(old.Median), fmtMs(s.Median), 100*(s.Median-old.Median)/old.Median)
		}
	}
	fmt.Print(b.String())
	return nil
}

func find(ps []stats, peer string) (stats, bool) {
	for _, p := range ps {
		if p.Peer == peer {
			return p, true
		}
	}
	return stats{}, false
}

func orderedIDs(m map[string]scenarioResult) []string {
	var ids []string
	for _, sc := range scenarioOrder {
		if _, ok := m[sc]; ok {
			ids = append(ids, sc)
		}
	}
	return ids
}

var scenarioOrder = []string{"run", "run-nonet", "run-memory", "run-seccomp", "engine-run", "engine-run-bridge", "rootless-run", "port-tcp", "rootless-port-tcp", "net-setup", "create", "start", "exec", "engine-exec", "run-loaded", "exec-loaded", "engine-run-loaded", "engine-exec-loaded", "serial-50", "parallel-50", "rss", "min-memory", "monitor-rss", "monitor-rss-net", "pull", "api-run", "api-exec", "build-cold", "build-cached", "build-edit", "build-copy-3700"}
