// Command httpserver is the FROM-scratch test image's program: a static
// HTTP server, with -once a line on stdout, with -udp a UDP listener that
// prints each datagram.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	once := flag.Bool("once", false, "print a line and exit")
	addr := flag.String("addr", ":80", "listen address")
	udp := flag.String("udp", "", "print the datagrams received on this UDP address")
	flag.Parse()
	if *udp != "" {
		pc, err := net.ListenPacket("udp", *udp)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		buf := make([]byte, 1500)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				os.Exit(1)
			}
			os.Stdout.Write(buf[:n])
		}
	}
	if *once {
		fmt.Println("hello from scratch")
		return
	}
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello from scratch") })
	if err := http.ListenAndServe(*addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
