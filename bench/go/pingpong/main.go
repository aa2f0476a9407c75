// B2 pingpong, Go twin of bench/pingpong.c: 1,000,000 round trips over two
// unbuffered channels.  Argument "1": runtime.GOMAXPROCS(1); "all" (default):
// every CPU.  Metric: ns per round trip.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

const rounds = 1000000

func main() {
	mode := "all"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	if mode != "all" {
		n, err := strconv.Atoi(mode)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "FAIL: bad P count %q\n", mode)
			os.Exit(1)
		}
		runtime.GOMAXPROCS(n)
	}
	ping, pong := make(chan int64), make(chan int64)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	var v int64
	t0 := time.Now()
	for i := 0; i < rounds; i++ {
		ping <- v
		v = <-pong
	}
	ns := float64(time.Since(t0).Nanoseconds()) / rounds
	close(ping)
	if v != rounds {
		fmt.Fprintf(os.Stderr, "FAIL: pingpong counted %d, want %d\n", v, rounds)
		os.Exit(1)
	}
	fmt.Printf("pingpong: %d round trips, %d Ps\n", rounds, runtime.GOMAXPROCS(0))
	fmt.Printf("pingpong_p%s ns_per_roundtrip %.1f ns\n", mode, ns)
}
