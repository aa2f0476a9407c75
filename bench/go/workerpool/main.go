// B8 workerpool, Go twin of bench/workerpool.c: jobs chan cap 100, results
// chan cap 100, runtime.NumCPU() workers; a producer goroutine sends jobs
// 1..1,000,000 and closes; workers send j*2; main sums the results and checks.
// Metric: jobs per second (higher is better).
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

const (
	numJobs = 1000000
	capN    = 100
)

func worker(jobs <-chan int, results chan<- int) {
	for j := range jobs {
		results <- j * 2
	}
}

func main() {
	jobs := make(chan int, capN)
	results := make(chan int, capN)
	workers := runtime.NumCPU()
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		go worker(jobs, results)
	}
	go func() {
		for j := 1; j <= numJobs; j++ {
			jobs <- j
		}
		close(jobs)
	}()
	var sum int64
	for i := 0; i < numJobs; i++ {
		sum += int64(<-results)
	}
	jps := numJobs / time.Since(t0).Seconds()
	if want := int64(numJobs) * (numJobs + 1); sum != want {
		fmt.Fprintf(os.Stderr, "FAIL: sum %d, want %d\n", sum, want)
		os.Exit(1)
	}
	fmt.Printf("workerpool: %d jobs, %d workers, %d Ps\n", numJobs, workers, runtime.GOMAXPROCS(0))
	fmt.Printf("workerpool jobs_per_s %.1f jobs/s\n", jps)
}
