// B9 echo, Go twin of bench/echo.c: a TCP echo server on 127.0.0.1, one
// goroutine per connection, each reading into a 16 KiB buffer and writing
// back what it read (an explicit loop, not io.Copy, which would splice).
// bench/run drives it with bench/go/echoclient and stops it with SIGTERM.
//
//	echo [ADDR]       (default 127.0.0.1:0; prints "listening on HOST:PORT")
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
)

func serve(c net.Conn, wg *sync.WaitGroup) {
	defer wg.Done()
	defer c.Close()
	buf := make([]byte, 16384)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	addr := "127.0.0.1:0"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: listen %s: %v\n", addr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() { <-sig; ln.Close() }()

	var wg sync.WaitGroup
	accepted := 0
	for {
		c, err := ln.Accept()
		if err != nil {
			break // closed by the signal
		}
		accepted++
		wg.Add(1)
		go serve(c, &wg)
	}
	wg.Wait()
	fmt.Printf("echo server: %d connections served, %d Ps\n", accepted, runtime.GOMAXPROCS(0))
}
