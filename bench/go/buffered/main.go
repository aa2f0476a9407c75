// B3 buffered, Go twin of bench/buffered.c: N producers -> N consumers over
// one chan of cap 1024, 10,000,000 ints in all (N = 1 or 4, the argument).
// Metric: ns per message.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

const (
	total = 10000000
	capy  = 1024
)

type sum struct{ sum, count int64 }

func main() {
	n := 1
	if len(os.Args) > 1 && os.Args[1] == "4" {
		n = 4
	} else if len(os.Args) > 1 && os.Args[1] != "1" {
		fmt.Fprintln(os.Stderr, "FAIL: argument: 1 or 4 (producers = consumers)")
		os.Exit(1)
	}
	data := make(chan int64, capy)
	done := make(chan struct{})
	sums := make(chan sum)
	per := int64(total / n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			var s sum
			for v := range data {
				s.sum += v
				s.count++
			}
			sums <- s
		}()
	}
	for i := 0; i < n; i++ {
		go func(id int64) {
			for v, end := id*per, id*per+per; v < end; v++ {
				data <- v
			}
			done <- struct{}{}
		}(int64(i))
	}
	for i := 0; i < n; i++ {
		<-done
	}
	close(data)
	var tot, count int64
	for i := 0; i < n; i++ {
		s := <-sums
		tot += s.sum
		count += s.count
	}
	ns := float64(time.Since(t0).Nanoseconds()) / total
	if count != total || tot != int64(total)*(total-1)/2 {
		fmt.Fprintf(os.Stderr, "FAIL: %d messages (want %d), sum %d\n", count, total, tot)
		os.Exit(1)
	}
	fmt.Printf("buffered: %d -> %d, %d messages, cap %d, %d Ps\n", n, n, total, capy, runtime.GOMAXPROCS(0))
	fmt.Printf("buffered_%dto%d ns_per_msg %.1f ns\n", n, n, ns)
}
