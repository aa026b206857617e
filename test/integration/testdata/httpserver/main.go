// Command httpserver is the FROM-scratch test image's program: a static
// HTTP server, or with -once a line on stdout.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
)

func main() {
	once := flag.Bool("once", false, "print a line and exit")
	addr := flag.String("addr", ":80", "listen address")
	flag.Parse()
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
