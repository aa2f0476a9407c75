// B5 select, Go twin of bench/select.c: 4 producers x 1,000,000 ints, each
// on its own unbuffered chan; one consumer selects over the 4.
// Metric: ns per message.  Argument "1": runtime.GOMAXPROCS(1), reported
// as select_p1; "all" (default): every P, reported as select.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

const (
	nprod = 4
	per   = 1000000
)

func main() {
	name := "select"
	if len(os.Args) > 1 && os.Args[1] != "all" {
		n, err := strconv.Atoi(os.Args[1])
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "FAIL: bad P count %q\n", os.Args[1])
			os.Exit(1)
		}
		runtime.GOMAXPROCS(n)
		name = "select_p" + os.Args[1]
	}
	var chans [nprod]chan int64
	for i := range chans {
		chans[i] = make(chan int64)
	}
	var counts, sums [nprod]int64
	t0 := time.Now()
	for i := 0; i < nprod; i++ {
		go func(c chan int64) {
			for v := int64(0); v < per; v++ {
				c <- v
			}
		}(chans[i])
	}
	for n := 0; n < nprod*per; n++ {
		var v int64
		var k int
		select {
		case v = <-chans[0]:
			k = 0
		case v = <-chans[1]:
			k = 1
		case v = <-chans[2]:
			k = 2
		case v = <-chans[3]:
			k = 3
		}
		counts[k]++
		sums[k] += v
	}
	ns := float64(time.Since(t0).Nanoseconds()) / (nprod * per)
	for i := 0; i < nprod; i++ {
		if counts[i] != per || sums[i] != int64(per)*(per-1)/2 {
			fmt.Fprintf(os.Stderr, "FAIL: channel %d: %d messages, sum %d\n", i, counts[i], sums[i])
			os.Exit(1)
		}
	}
	fmt.Printf("select: %d producers x %d messages, %d Ps\n", nprod, per, runtime.GOMAXPROCS(0))
	fmt.Printf("%s ns_per_msg %.1f ns\n", name, ns)
}
