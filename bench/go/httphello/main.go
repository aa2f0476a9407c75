// HTTP "hello world" with net/http: the Go twin of examples/http_hello.c,
// for comparing both under wrk (not a row of bench/run):
//
//	httphello [ADDR]     (default 127.0.0.1:8080; prints "listening on HOST:PORT")
//	wrk -t2 -c100 -d10s http://HOST:PORT/
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	addr := "127.0.0.1:8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: listen %s: %v\n", addr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("hello world\n"))
	})
	if err := http.Serve(ln, nil); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: serve: %v\n", err)
		os.Exit(1)
	}
}
