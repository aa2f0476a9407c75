// B9 echo client, used against both servers (bench/echo.c and its Go twin
// bench/go/echo): opens 100 connections to ADDR, then each does 10,000
// round trips of 64 bytes (write 64, read 64 back, compare) at once.
// Timing starts once every connection is open.  Metric: round trips per
// second over all connections (throughput: higher is better).
//
//	echoclient ADDR [CONNS [ROUNDS]]
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: echoclient ADDR [CONNS [ROUNDS]]")
	}
	addr, conns, rounds := os.Args[1], 100, 10000
	var err error
	if len(os.Args) > 2 {
		if conns, err = strconv.Atoi(os.Args[2]); err != nil || conns <= 0 {
			fail("bad CONNS %q", os.Args[2])
		}
	}
	if len(os.Args) > 3 {
		if rounds, err = strconv.Atoi(os.Args[3]); err != nil || rounds <= 0 {
			fail("bad ROUNDS %q", os.Args[3])
		}
	}

	cs := make([]net.Conn, conns)
	for i := range cs {
		if cs[i], err = net.Dial("tcp", addr); err != nil {
			fail("dial %s: %v", addr, err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	t0 := time.Now()
	for i, c := range cs {
		wg.Add(1)
		go func(i int, c net.Conn) {
			defer wg.Done()
			out, in := make([]byte, 64), make([]byte, 64)
			for r := 0; r < rounds; r++ {
				for k := range out {
					out[k] = byte(i + r + k)
				}
				if _, err := c.Write(out); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(c, in); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(in, out) {
					errs <- fmt.Errorf("connection %d round %d: echo differs", i, r)
					return
				}
			}
		}(i, c)
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	close(errs)
	for e := range errs {
		fail("%v", e)
	}
	for _, c := range cs {
		c.Close()
	}
	total := conns * rounds
	fmt.Printf("echo: %d connections x %d round trips of 64 bytes in %.2f s\n", conns, rounds, secs)
	fmt.Printf("echo round_trips_per_s %.1f rt/s\n", float64(total)/secs)
}
