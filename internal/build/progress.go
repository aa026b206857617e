package build

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Progress is how a build shows its steps.
type Progress string

const (
	// ProgressPlain is BuildKit's plain form: a numbered block per step,
	// what RUN prints with the seconds since the step began, and the
	// step's time or CACHED. Stages built at once interleave their
	// blocks, each line naming its step.
	ProgressPlain Progress = "plain"
	// ProgressTTY is a live view of the steps, redrawn as they run.
	ProgressTTY Progress = "tty"
	// ProgressAuto is tty on a terminal, plain elsewhere.
	ProgressAuto Progress = "auto"
	// ProgressQuiet shows nothing.
	ProgressQuiet Progress = "quiet"
	// ProgressClassic is Docker's classic builder: "Step N/M : ..."
	// and " ---> ID" lines, what the Engine API's build stream carries.
	ProgressClassic Progress = "classic"
)

// ParseProgress reads a --progress value.
func ParseProgress(s string) (Progress, error) {
	switch p := Progress(s); p {
	case ProgressPlain, ProgressTTY, ProgressAuto, ProgressQuiet, ProgressClassic:
		return p, nil
	case "":
		return ProgressAuto, nil
	}
	return "", fmt.Errorf("--progress=%s: expected auto, plain, tty, quiet or classic", s)
}

// progress renders a build's steps; its methods are safe to call from
// the stages building at once.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	mode  Progress
	start time.Time
	n     int       // the last step's number
	cn    int       // classic: the last step's number
	total int       // classic: the steps to go through
	vs    []*vertex // tty: the steps drawn
	last  *vertex   // plain: the step the last line was about
	drawn int       // tty: lines drawn last time
	width int
	warns []string // tty: shown after the view
	stop  chan struct{}
	done  chan struct{}
}

// vertex is one step in the output.
type vertex struct {
	p       *progress
	n       int
	name    string // plain and tty: "[build 2/3] RUN make"
	silent  bool   // a step only classic shows (a metadata instruction)
	start   time.Time
	elapsed time.Duration
	state   string // "" running, "DONE", "CACHED", "ERROR"
	partial []byte
	tail    []string // tty: the last lines printed
}

func newProgress(w io.Writer, mode Progress) *progress {
	if w == nil {
		w, mode = io.Discard, ProgressQuiet
	}
	if mode == "" {
		mode = ProgressPlain
	}
	width := 80
	if mode == ProgressAuto || mode == ProgressTTY {
		terminal := false
		if f, ok := w.(*os.File); ok {
			_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
			terminal = err == nil
			if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
				width = int(ws.Col)
			}
		}
		if terminal {
			mode = ProgressTTY
		} else if mode == ProgressAuto {
			mode = ProgressPlain
		}
	}
	p := &progress{w: w, mode: mode, start: time.Now(), width: width}
	if mode == ProgressTTY {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.redraw()
	}
	return p
}

// redraw draws the live view ten times a second until close.
func (p *progress) redraw() {
	defer close(p.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.draw(false)
			p.mu.Unlock()
		}
	}
}

// close draws the final view.
func (p *progress) close() {
	if p.mode != ProgressTTY {
		return
	}
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(true)
	// A failed step's output stays on screen below the view.
	for _, v := range p.vs {
		if v.state == "ERROR" && len(v.tail) > 0 {
			fmt.Fprintf(p.w, "------\n > %s:\n", v.name)
			for _, l := range v.tail {
				fmt.Fprintf(p.w, "%s\n", l)
			}
			fmt.Fprintf(p.w, "------\n")
		}
	}
	for _, w := range p.warns {
		fmt.Fprintf(p.w, "[WARNING] %s\n", w)
	}
}

// draw redraws the view over the last one: the steps with their times,
// and under each running one the last lines it printed.
func (p *progress) draw(final bool) {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	finished := 0
	for _, v := range p.vs {
		if v.state != "" {
			finished++
		}
	}
	lines := []string{fmt.Sprintf("[+] Building %.1fs (%d/%d)%s", time.Since(p.start).Seconds(), finished, len(p.vs), map[bool]string{true: " FINISHED"}[final])}
	for _, v := range p.vs {
		d := v.elapsed
		if v.state == "" {
			d = time.Since(v.start)
		}
		prefix := " => "
		switch v.state {
		case "CACHED":
			prefix += "CACHED "
		case "ERROR":
			prefix += "ERROR "
		}
		lines = append(lines, fit(prefix+v.name, fmt.Sprintf("%.1fs", d.Seconds()), p.width))
		if v.state == "" && !final {
			for _, l := range v.tail {
				lines = append(lines, fit(" => => # "+l, "", p.width))
			}
		}
	}
	for _, l := range lines {
		b.WriteString("\x1b[K" + l + "\n")
	}
	// Lines of a longer view drawn before are cleared.
	for i := len(lines); i < p.drawn; i++ {
		b.WriteString("\x1b[K\n")
	}
	if len(lines) < p.drawn {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn-len(lines))
	}
	p.drawn = len(lines)
	_, _ = io.WriteString(p.w, b.String()) // a terminal gone away: the build goes on
}

// fit is text with right at the end of a line width wide.
func fit(text, right string, width int) string {
	room := width - len(right) - 1
	if room < 10 {
		room = 10
	}
	if len(text) > room {
		text = text[:room-3] + "..."
	}
	if right == "" {
		return text
	}
	return text + strings.Repeat(" ", room-len(text)+1) + right
}

// warn shows a warning of the parser, the linter or the build.
func (p *progress) warn(w string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.mode {
	case ProgressQuiet:
	case ProgressTTY:
		p.warns = append(p.warns, w)
	default:
		fmt.Fprintf(p.w, "[WARNING] %s\n", w)
	}
}

// step begins a step; classic is how the classic form names it.
func (p *progress) step(name, classic string, silent bool) *vertex {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := &vertex{p: p, name: name, silent: silent, start: time.Now()}
	if !silent {
		p.n++
		v.n = p.n
	}
	switch p.mode {
	case ProgressClassic:
		if classic != "" {
			p.cn++
			fmt.Fprintf(p.w, "Step %d/%d : %s\n", p.cn, p.total, classic)
		}
	case ProgressPlain:
		// A step that begins while another's block is open shows its
		// header with its first line, not now: an empty block between
		// another's lines says nothing.
		if !silent && (p.last == nil || p.last.state != "") {
			p.header(v)
		}
	case ProgressTTY:
		if !silent {
			p.vs = append(p.vs, v)
		}
	}
	return v
}

// header starts a plain block for v.
func (p *progress) header(v *vertex) {
	if p.last != nil {
		fmt.Fprintln(p.w)
	}
	fmt.Fprintf(p.w, "#%d %s\n", v.n, v.name)
	p.last = v
}

// Write is what the step's process prints, shown line by line.
func (v *vertex) Write(b []byte) (int, error) {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	v.partial = append(v.partial, b...)
	for {
		i := bytes.IndexByte(v.partial, '\n')
		if i < 0 {
			break
		}
		v.line(string(v.partial[:i]))
		v.partial = v.partial[i+1:]
	}
	return len(b), nil
}

// stderr is where the step's process writes its stderr: the classic
// form sends each write red, as Docker's classic builder does (clients
// look for its codes); the others show it as they show stdout.
func (v *vertex) stderr() io.Writer { return stderrWriter{v} }

type stderrWriter struct{ v *vertex }

func (w stderrWriter) Write(b []byte) (int, error) {
	p := w.v.p
	if p.mode != ProgressClassic {
		return w.v.Write(b)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := io.WriteString(p.w, "\x1b[91m"+string(b)+"\x1b[0m"); err != nil {
		return 0, err
	}
	return len(b), nil
}

// line shows one line of the step's output.
func (v *vertex) line(l string) {
	p := v.p
	switch p.mode {
	case ProgressClassic:
		fmt.Fprintln(p.w, l)
	case ProgressPlain:
		if p.last != v {
			p.header(v)
		}
		fmt.Fprintf(p.w, "#%d %.3f %s\n", v.n, time.Since(v.start).Seconds(), l)
	case ProgressTTY:
		v.tail = append(v.tail, strings.TrimRight(l, "\r"))
		if len(v.tail) > 6 {
			v.tail = v.tail[len(v.tail)-6:]
		}
	}
}

// note is a line about the step's work that is not its process's
// output: plain shows it as BuildKit does ("writing image ... done").
func (v *vertex) note(s string) {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == ProgressPlain && !v.silent {
		if p.last != v {
			p.header(v)
		}
		fmt.Fprintf(p.w, "#%d %s\n", v.n, s)
	}
}

// classic is a line only the classic form shows.
func (v *vertex) classic(format string, args ...any) {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == ProgressClassic {
		fmt.Fprintf(p.w, format, args...)
	}
}

// cached ends the step as served from the build cache.
func (v *vertex) cached() { v.end("CACHED", nil) }

// finish ends the step, as failed when err is set.
func (v *vertex) finish(err error) {
	if err != nil {
		v.end("ERROR", err)
		return
	}
	v.end("DONE", nil)
}

func (v *vertex) end(state string, err error) {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if v.state != "" {
		return // ended already
	}
	if len(v.partial) > 0 {
		v.line(string(v.partial))
		v.partial = nil
	}
	v.state, v.elapsed = state, time.Since(v.start)
	switch p.mode {
	case ProgressClassic:
		if state == "CACHED" {
			fmt.Fprintln(p.w, " ---> Using cache")
		}
	case ProgressPlain:
		if v.silent {
			return
		}
		if p.last != v {
			p.header(v)
		}
		switch state {
		case "CACHED":
			fmt.Fprintf(p.w, "#%d CACHED\n", v.n)
		case "ERROR":
			fmt.Fprintf(p.w, "#%d ERROR: %v\n", v.n, err)
		default:
			fmt.Fprintf(p.w, "#%d DONE %.1fs\n", v.n, v.elapsed.Seconds())
		}
	}
}
