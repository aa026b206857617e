// Command harness runs berth's benchmarks side by side with its peers
// (runc, crun, Podman, Docker, and the kernel floor: unshare with the same
// namespaces). Every scenario runs each peer's iterations interleaved —
// berth, runc, crun, ..., berth, runc, ... — so that a machine's noise hits
// all columns alike. It prints one table (median per peer, the ratio
// berth/peer, the spread) and writes it as Markdown and JSON.
//
// It never fails a build: a peer that cannot run here gets its reason in
// the table instead of a figure.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

var (
	berthBin  = flag.String("berth-runtime", "bin/berth-runtime", "berth-runtime binary")
	rootfs    = flag.String("rootfs", "test/fixtures/busybox/rootfs", "busybox rootfs")
	runs      = flag.Int("runs", 100, "timed iterations per peer and scenario")
	warmup    = flag.Int("warmup", 5, "untimed iterations first")
	peersFlag = flag.String("peers", "berth,runc,crun,podman,docker,floor", "peers to run")
	only      = flag.String("scenarios", "", "comma-separated scenario ids (default all)")
	outDir    = flag.String("results", "bench/results", "where the tables go")
	binDir    = flag.String("peer-bin", "", "directory holding runc/crun binaries (device host); PATH when empty")
	cmpFlag   = flag.Bool("compare", false, "compare two result files: -compare OLD.json NEW.json")
)

func main() {
	flag.Parse()
	if *agentFlag {
		agentMain()
		return
	}
	if *cmpFlag {
		if flag.NArg() != 2 {
			fmt.Fprintln(os.Stderr, "usage: harness -compare OLD.json NEW.json")
			os.Exit(2)
		}
		if err := compare(flag.Arg(0), flag.Arg(1)); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	env, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	defer env.teardown()
	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s != "" {
			want[s] = true
		}
	}
	var results []scenarioResult
	for _, sc := range scenarios(env) {
		if len(want) > 0 && !want[sc.id] {
			continue
		}
		fmt.Fprintf(os.Stderr, "== %s\n", sc.title)
		res := runScenario(sc, env.peers)
		if sc.id == "pull" {
			env.pullThroughput(res)
		}
		results = append(results, res)
	}
	env.rootlessRatios(results)
	report(results, env)
}

// stats summarises one peer's timings in one scenario.
type stats struct {
	Peer    string    `json:"peer"`
	Skipped string    `json:"skipped,omitempty"`
	N       int       `json:"n,omitempty"`
	Median  float64   `json:"median_ms,omitempty"`
	Min     float64   `json:"min_ms,omitempty"`
	Max     float64   `json:"max_ms,omitempty"`
	Mean    float64   `json:"mean_ms,omitempty"`
	Value   string    `json:"value,omitempty"` // for non-timing rows (RSS)
	Samples []float64 `json:"samples_ms,omitempty"`
}

type scenarioResult struct {
	ID    string  `json:"id"`
	Title string  `json:"title"`
	Unit  string  `json:"unit"`
	Peers []stats `json:"peers"`
}

func summarise(peer string, samples []float64) stats {
	s := stats{Peer: peer, N: len(samples), Samples: samples}
	if len(samples) == 0 {
		return s
	}
	sorted := append([]float64(nil), samples...)
	sort.Float64s(sorted)
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	if n := len(sorted); n%2 == 1 {
		s.Median = sorted[n/2]
	} else {
		s.Median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	var sum float64
	for _, v := range sorted {
		sum += v
	}
	s.Mean = sum / float64(len(sorted))
	return s
}

// runScenario interleaves the peers' iterations.
func runScenario(sc scenario, peers []string) scenarioResult {
	res := scenarioResult{ID: sc.id, Title: sc.title, Unit: sc.unit}
	if sc.values != nil {
		for _, p := range peers {
			v, skip := sc.values(p)
			res.Peers = append(res.Peers, stats{Peer: p, Value: v, Skipped: skip})
		}
		return res
	}
	if sc.loaded {
		stop, err := hog()
		if err != nil {
			for _, p := range peers {
				res.Peers = append(res.Peers, stats{Peer: p, Skipped: "the CPU hog did not start: " + oneLine(err)})
			}
			return res
		}
		defer stop()
	}
	type state struct {
		op      *op
		skip    string
		samples []float64
	}
	st := map[string]*state{}
	var active []string
	for _, p := range peers {
		o, skip := sc.op(p)
		st[p] = &state{op: o, skip: skip}
		if o == nil {
			continue
		}
		if o.setup != nil {
			if err := o.setup(); err != nil {
				st[p].skip = "setup failed: " + oneLine(err)
				continue
			}
		}
		active = append(active, p)
	}
	iters := *runs
	if sc.runs > 0 && sc.runs < iters {
		iters = sc.runs
	}
	for i := -*warmup; i < iters; i++ {
		// Rotate who goes first: an engine's asynchronous teardown spills
		// into the next peer's iteration, so every peer takes turns
		// following every other.
		order := make([]string, 0, len(active))
		for k := range active {
			order = append(order, active[(k+i+len(active)**warmup)%len(active)])
		}
		for _, p := range order {
			s := st[p]
			if s.skip != "" {
				continue
			}
			d, err := s.op.once(i)
			if err != nil {
				s.skip = "failed: " + oneLine(err)
				continue
			}
			if i >= 0 {
				s.samples = append(s.samples, float64(d)/float64(time.Millisecond))
			}
		}
	}
	for _, p := range peers {
		s := st[p]
		if s.op != nil && s.op.teardown != nil {
			s.op.teardown()
		}
		if s.skip != "" {
			res.Peers = append(res.Peers, stats{Peer: p, Skipped: s.skip})
			continue
		}
		res.Peers = append(res.Peers, summarise(p, s.samples))
	}
	return res
}

func oneLine(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// report prints the table and writes Markdown and JSON.
func report(results []scenarioResult, env *env) {
	var b strings.Builder
	fmt.Fprintf(&b, "| scenario |")
	for _, p := range env.peers {
		fmt.Fprintf(&b, " %s |", p)
	}
	fmt.Fprintf(&b, " berth spread (min-max) |\n|---|")
	for range env.peers {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	var notes []string
	for _, r := range results {
		var berth *stats
		for i := range r.Peers {
			if r.Peers[i].Peer == "berth" && r.Peers[i].Skipped == "" {
				berth = &r.Peers[i]
			}
		}
		fmt.Fprintf(&b, "| %s |", r.Title)
		for _, s := range r.Peers {
			switch {
			case s.Skipped != "":
				notes = append(notes, fmt.Sprintf("%s / %s: %s", r.Title, s.Peer, s.Skipped))
				fmt.Fprintf(&b, " n/a [%d] |", len(notes))
			case s.Value != "":
				fmt.Fprintf(&b, " %s |", s.Value)
			case s.Peer == "berth" || berth == nil || berth.Value != "":
				fmt.Fprintf(&b, " %s |", fmtMs(s.Median))
			default:
				fmt.Fprintf(&b, " %s (%.2f) |", fmtMs(s.Median), berth.Median/s.Median)
			}
		}
		if berth != nil && berth.Value == "" {
			fmt.Fprintf(&b, " %s-%s |\n", fmtMs(berth.Min), fmtMs(berth.Max))
		} else {
			b.WriteString(" |\n")
		}
	}
	b.WriteString("\nCells: median (berth/peer). ")
	fmt.Fprintf(&b, "%d timed runs per cell after %d warm-up, peers interleaved.\n", *runs, *warmup)
	for i, n := range notes {
		fmt.Fprintf(&b, "\n[%d] %s", i+1, n)
	}
	b.WriteString("\n")
	for _, n := range env.notes {
		fmt.Fprintf(&b, "\n- %s", n)
	}
	b.WriteString("\n")
	table := b.String()
	fmt.Print("\n" + table)

	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return
	}
	stamp := time.Now().UTC().Format("20060102-150405")
	host, _ := os.Hostname()
	doc := map[string]any{"time": time.Now().UTC(), "host": host, "machine": env.machine, "runs": *runs, "scenarios": results, "notes": env.notes}
	data, _ := json.MarshalIndent(doc, "", "  ")
	for _, name := range []string{stamp, "latest"} {
		os.WriteFile(filepath.Join(*outDir, name+".json"), data, 0o644)
		os.WriteFile(filepath.Join(*outDir, name+".md"), []byte("Machine: "+env.machine+"\n\n"+table), 0o644)
	}
	fmt.Fprintf(os.Stderr, "\nwrote %s/{%s,latest}.{md,json}\n", *outDir, stamp)
}

func fmtMs(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}
