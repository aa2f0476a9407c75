// B10 timers, Go twin of bench/timers.c: 100,000 goroutines each
// time.Sleep a pseudo-random 1-100 ms (splitmix64 seeded with the goroutine's
// index, as on the C side), 10 times; lateness of every sleep into a
// preallocated slice.  Argument "p99" (default) or "wall" picks the metric
// printed last.
package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"
)

const (
	G      = 100000
	sleeps = 10
	golden = 0x9E3779B97F4A7C15
)

func splitmix64(s *uint64) uint64 {
	*s += golden
	z := *s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func sleepMs(s *uint64) int64 { return 1 + int64(splitmix64(s)%100) }

func quantileUs(v []int64, q float64) float64 {
	k := int(math.Ceil(q * float64(len(v))))
	if k < 1 {
		k = 1
	}
	return float64(v[k-1]) / 1e3
}

func main() {
	last := "p99"
	if len(os.Args) > 1 {
		last = os.Args[1]
	}
	if last != "p99" && last != "wall" {
		fmt.Fprintln(os.Stderr, "FAIL: argument: p99 or wall")
		os.Exit(1)
	}
	var ideal, total int64
	for i := uint64(0); i < G; i++ {
		s := i
		var sum int64
		for k := 0; k < sleeps; k++ {
			sum += sleepMs(&s)
		}
		total += sum
		if sum > ideal {
			ideal = sum
		}
	}
	lat := make([]int64, G*sleeps)
	var wg sync.WaitGroup
	wg.Add(G)
	t0 := time.Now()
	for i := uint64(0); i < G; i++ {
		go func(i uint64) {
			s := i
			for k := 0; k < sleeps; k++ {
				d := time.Duration(sleepMs(&s)) * time.Millisecond
				t := time.Now()
				time.Sleep(d)
				lat[i*sleeps+uint64(k)] = int64(time.Since(t) - d)
			}
			wg.Done()
		}(i)
	}
	wg.Wait()
	wallMs := float64(time.Since(t0).Nanoseconds()) / 1e6
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	if lat[0] < 0 {
		fmt.Fprintf(os.Stderr, "FAIL: a sleep returned %d ns early\n", -lat[0])
		os.Exit(1)
	}
	fmt.Printf("timers: %d goroutines x %d sleeps of 1-100 ms (%d ms in all), %d Ps\n",
		G, sleeps, total, runtime.GOMAXPROCS(0))
	fmt.Printf("timers: lateness p50 %.1f us, p90 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n",
		quantileUs(lat, 0.50), quantileUs(lat, 0.90), quantileUs(lat, 0.99),
		quantileUs(lat, 0.999), float64(lat[len(lat)-1])/1e3)
	fmt.Printf("timers: wall %.1f ms, ideal %d ms (+%.1f ms)\n", wallMs, ideal, wallMs-float64(ideal))
	if last == "wall" {
		fmt.Printf("timers_wall wall_ms %.1f ms\n", wallMs)
	} else {
		fmt.Printf("timers_p99 p99_lateness_us %.1f us\n", quantileUs(lat, 0.99))
	}
}
