// spawn, Go twin of bench/spawn.c: spawn and complete 1,000,000 goroutines,
// in waves of 10,000 ("waves", default) or all at once ("all").  Each adds
// its index to a sum and decrements a counter; the last one signals a
// chan struct{} of cap 1 (the same hand-made WaitGroup as the C side).
// Metric: wall ms.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

const (
	total = 1000000
	waveN = 10000
)

var (
	pending, sum int64
	done         = make(chan struct{}, 1)
)

func child(i int64) {
	atomic.AddInt64(&sum, i)
	if atomic.AddInt64(&pending, -1) == 0 {
		done <- struct{}{}
	}
}

func main() {
	mode := "waves"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	wave := 0
	switch mode {
	case "waves":
		wave = waveN
	case "all":
		wave = total
	default:
		fmt.Fprintln(os.Stderr, "FAIL: argument: waves or all")
		os.Exit(1)
	}
	finished := make(chan float64)
	go func() { // spawn from a goroutine other than main, like goro_main
		t0 := time.Now()
		for base := 0; base < total; base += wave {
			atomic.StoreInt64(&pending, int64(wave))
			for i := base; i < base+wave; i++ {
				go child(int64(i))
			}
			<-done
		}
		finished <- float64(time.Since(t0).Nanoseconds()) / 1e6
	}()
	ms := <-finished
	if s := atomic.LoadInt64(&sum); s != int64(total)*(total-1)/2 {
		fmt.Fprintf(os.Stderr, "FAIL: sum %d\n", s)
		os.Exit(1)
	}
	fmt.Printf("spawn: %d goroutines in waves of %d, %d Ps\n", total, wave, runtime.GOMAXPROCS(0))
	fmt.Printf("spawn_%s wall_ms %.1f ms\n", mode, ms)
}
