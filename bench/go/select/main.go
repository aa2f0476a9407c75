// B5 select, Go twin of bench/select.c: 4 producers x 1,000,000 ints, each
// on its own unbuffered chan; one consumer selects over the 4.
// Metric: ns per message.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

const (
	nprod = 4
	per   = 1000000
)

func main() {
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
	fmt.Printf("select ns_per_msg %.1f ns\n", ns)
}
