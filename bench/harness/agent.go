package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// On this hybrid host crun runs only in a mount namespace where the
// cgroup2 mount is hidden. Wrapping each crun command in `unshare -m`
// charges crun with one more process start per command; instead, one
// agent process, started once behind that wrapper, runs every crun
// command of the harness and times it itself. crun's figures are then
// its own, and the wrapper's cost is noted apart.

var agentFlag = flag.Bool("agent", false, "internal: run the commands read from stdin and time each (crun's mount namespace)")

// agentArg0 marks an argv that the agent runs.
const agentArg0 = "@agent"

type agentReq struct {
	ID   int      `json:"id"`
	Argv []string `json:"argv"`
	Out  string   `json:"out"` // the file the command's output goes to
}

type agentRes struct {
	ID     int    `json:"id"`
	NS     int64  `json:"ns"`
	MaxRSS int64  `json:"maxrss"` // KiB
	Err    string `json:"err,omitempty"`
}

// agent is the harness's side of a running agent.
type agent struct {
	mu      sync.Mutex
	enc     *json.Encoder
	next    int
	waiting map[int]chan agentRes
}

// startAgent runs this binary with -agent behind wrapper (an argv whose
// last words exec "$0" "$@").
func startAgent(wrapper []string) (*agent, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(wrapper[0], append(wrapper[1:], self, "-agent")...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	a := &agent{enc: json.NewEncoder(in), waiting: map[int]chan agentRes{}}
	go func() {
		dec := json.NewDecoder(out)
		for {
			var r agentRes
			if err := dec.Decode(&r); err != nil {
				a.mu.Lock()
				for id, ch := range a.waiting {
					ch <- agentRes{ID: id, Err: "the crun agent ended"}
				}
				a.waiting = map[int]chan agentRes{}
				a.mu.Unlock()
				_ = cmd.Wait() // ended: its stderr said why
				return
			}
			a.mu.Lock()
			ch := a.waiting[r.ID]
			delete(a.waiting, r.ID)
			a.mu.Unlock()
			if ch != nil {
				ch <- r
			}
		}
	}()
	return a, nil
}

// run has the agent run argv with its output to out, and returns the
// time the agent measured and the command's peak RSS.
func (a *agent) run(argv []string, out *os.File) (time.Duration, int64, error) {
	ch := make(chan agentRes, 1)
	a.mu.Lock()
	a.next++
	id := a.next
	a.waiting[id] = ch
	err := a.enc.Encode(agentReq{ID: id, Argv: argv, Out: out.Name()})
	a.mu.Unlock()
	if err != nil {
		return 0, 0, fmt.Errorf("crun agent: %w", err)
	}
	r := <-ch
	if r.Err != "" {
		return time.Duration(r.NS), r.MaxRSS, errors.New(r.Err)
	}
	return time.Duration(r.NS), r.MaxRSS, nil
}

// agentMain serves requests from stdin, each in its own goroutine (the
// harness runs some at once), until stdin ends.
func agentMain() {
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	reply := func(r agentRes) {
		mu.Lock()
		_ = enc.Encode(r) // the harness gone: nothing to tell
		mu.Unlock()
	}
	dec := json.NewDecoder(bufio.NewReader(os.Stdin))
	var wg sync.WaitGroup
	for {
		var req agentReq
		if err := dec.Decode(&req); err != nil {
			if !errors.Is(err, io.EOF) {
				fmt.Fprintln(os.Stderr, "agent:", err)
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := agentRes{ID: req.ID}
			f, err := os.OpenFile(req.Out, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				res.Err = err.Error()
				reply(res)
				return
			}
			defer f.Close() // written by the command
			cmd := exec.Command(req.Argv[0], req.Argv[1:]...)
			cmd.Stdout, cmd.Stderr = f, f
			start := time.Now()
			err = cmd.Run()
			res.NS = int64(time.Since(start))
			if err != nil {
				res.Err = err.Error()
			}
			if cmd.ProcessState != nil {
				if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
					res.MaxRSS = ru.Maxrss
				}
			}
			reply(res)
		}()
	}
	wg.Wait()
}
