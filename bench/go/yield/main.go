// B4 yield, Go twin of bench/yield.c: 2 goroutines x 5,000,000
// runtime.Gosched() with runtime.GOMAXPROCS(1).  Metric: ns per switch.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

const (
	per = 5000000
	ng  = 2
)

func main() {
	runtime.GOMAXPROCS(1)
	done := make(chan struct{})
	var counts [ng]int64
	t0 := time.Now()
	for i := 0; i < ng; i++ {
		go func(n *int64) {
			for j := 0; j < per; j++ {
				runtime.Gosched()
				*n++
			}
			done <- struct{}{}
		}(&counts[i])
	}
	for i := 0; i < ng; i++ {
		<-done
	}
	ns := float64(time.Since(t0).Nanoseconds()) / (ng * per)
	for i, c := range counts {
		if c != per {
			fmt.Fprintf(os.Stderr, "FAIL: yielder %d counted %d, want %d\n", i, c, per)
			os.Exit(1)
		}
	}
	fmt.Printf("yield: %d goroutines x %d yields, 1 P\n", ng, per)
	fmt.Printf("yield ns_per_switch %.1f ns\n", ns)
}
