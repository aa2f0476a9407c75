// B6 mutex, Go twin of bench/mutex.c: 8 goroutines increment one counter
// under a sync.Mutex, 10,000,000 increments in all.  Metric: ns per increment.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

const (
	total   = 10000000
	workers = 8
)

func main() {
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		counter int64
	)
	t0 := time.Now()
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < total/workers; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	ns := float64(time.Since(t0).Nanoseconds()) / total
	if counter != total {
		fmt.Fprintf(os.Stderr, "FAIL: counter %d, want %d\n", counter, total)
		os.Exit(1)
	}
	fmt.Printf("mutex: %d goroutines, %d increments, %d Ps\n", workers, total, runtime.GOMAXPROCS(0))
	fmt.Printf("mutex ns_per_increment %.1f ns\n", ns)
}
