// Command berth-monitor is the idle stage of a container's monitor: see
// internal/monitor/idle. berth execs it; it is not run by hand.
package main

import "github.com/berth-project/berth/internal/monitor/idle"

func main() { idle.Main() }
