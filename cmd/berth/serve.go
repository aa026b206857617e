package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/api"
	"github.com/berth-project/berth/internal/engine"
)

// serveCommand is `berth serve` (and `berth system service`, Podman's
// name): the Docker Engine API on a socket.
func serveCommand(g *globals, use string) *cobra.Command {
	var host string
	var timeout int
	c := &cobra.Command{
		Use:   use + " [OPTIONS]",
		Short: "Serve the Docker Engine API (docker, docker-py, compose) on a socket",
		Long: "Serve the Docker Engine API. The socket is root-equivalent: whoever can write to it runs containers as root.\n" +
			"Containers belong to their monitors: stopping the server stops none of them.",
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			e, err := engine.OpenWith(g.root, g.runRoot, engine.Options{CDISpecDirs: g.cdiDirs, RegistryMirrors: g.mirrors})
			if err != nil {
				return err
			}
			l, err := listen(host, g.runRoot)
			if err != nil {
				return err
			}
			var h http.Handler = api.New(e, engine.Version)
			if g.logLevel == "debug" {
				h = logRequests(h)
			}
			return serve(l, h, time.Duration(timeout)*time.Second)
		},
	}
	c.Flags().StringVarP(&host, "host", "H", "", "where to listen: unix:///PATH (default unix://RUNROOT/docker.sock) or tcp://127.0.0.1:PORT")
	c.Flags().IntVar(&timeout, "timeout", 0, "exit after this many seconds without a request (0: never)")
	return c
}

// listen is the API's listener: the systemd-activated socket when one
// was passed (LISTEN_FDS), else the one host names.
func listen(host, runRoot string) (net.Listener, error) {
	if os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) && os.Getenv("LISTEN_FDS") != "" && os.Getenv("LISTEN_FDS") != "0" {
		f := os.NewFile(3, "systemd-socket")
		l, err := net.FileListener(f)
		_ = f.Close() // FileListener made its own descriptor
		if err != nil {
			return nil, fmt.Errorf("serve: the socket systemd passed: %w", err)
		}
		return l, nil
	}
	if host == "" {
		host = "unix://" + filepath.Join(runRoot, "docker.sock")
	}
	switch {
	case strings.HasPrefix(host, "unix://"):
		path := strings.TrimPrefix(host, "unix://")
		if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		// A socket left by a server that was killed; a live one answers.
		if c, err := net.Dial("unix", path); err == nil {
			_ = c.Close() // only a probe
			return nil, fmt.Errorf("serve: %s: another server listens there", path)
		}
		_ = os.Remove(path) // stale, or absent
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		// Root-equivalent: root's, and the berth group's when there is one.
		gid := 0
		if gr, err := user.LookupGroup("berth"); err == nil {
			gid, _ = strconv.Atoi(gr.Gid)
		}
		if err := errors.Join(os.Chown(path, 0, gid), os.Chmod(path, 0o660)); err != nil {
			_ = l.Close() // not served: the error says why
			return nil, fmt.Errorf("serve: %w", err)
		}
		return l, nil
	case strings.HasPrefix(host, "tcp://"):
		addr := strings.TrimPrefix(host, "tcp://")
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		return l, nil
	}
	return nil, usageError{fmt.Errorf("-H %s: want unix:///PATH or tcp://ADDR:PORT", host)}
}

// serve serves h on l until SIGINT or SIGTERM, or until idle for
// timeout when it is not 0. Streams in progress (attach, logs, events)
// end with the server; the containers do not.
func serve(l net.Listener, h http.Handler, timeout time.Duration) error {
	var active atomic.Int64
	last := atomic.Int64{}
	last.Store(time.Now().UnixNano())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		active.Add(1)
		defer func() {
			active.Add(-1)
			last.Store(time.Now().UnixNano())
		}()
		h.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	var tick <-chan time.Time
	if timeout > 0 {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return shutdown(srv)
		case <-tick:
			if active.Load() == 0 && time.Since(time.Unix(0, last.Load())) >= timeout {
				return shutdown(srv)
			}
		}
	}
}

func shutdown(srv *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// logRequests prints each request as it arrives and when it is
// answered (--log-level debug): a client that hangs shows where.
func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		fmt.Fprintf(os.Stderr, "%s > %s %s\n", start.Format("15:04:05.000"), r.Method, r.URL.RequestURI())
		h.ServeHTTP(w, r)
		fmt.Fprintf(os.Stderr, "%s < %s %s (%s)\n", time.Now().Format("15:04:05.000"), r.Method, r.URL.Path, time.Since(start).Round(time.Millisecond))
	})
}
