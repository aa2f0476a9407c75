// B1 skynet, Go twin of bench/skynet.c: 1,111,111 goroutines, unbuffered
// channels, root checks 499999500000.  Metric: wall ms.
package main

import (
	"fmt"
	"os"
	"time"
)

func skynet(c chan int64, num, size, div int64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int64)
	var sum int64
	for i := int64(0); i < div; i++ {
		go skynet(rc, num+i*(size/div), size/div, div)
	}
	for i := int64(0); i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func main() {
	c := make(chan int64)
	t0 := time.Now()
	go skynet(c, 0, 1000000, 10)
	sum := <-c
	ms := float64(time.Since(t0).Nanoseconds()) / 1e6
	if sum != 499999500000 {
		fmt.Fprintf(os.Stderr, "FAIL: skynet sum %d, want 499999500000\n", sum)
		os.Exit(1)
	}
	fmt.Printf("skynet: sum %d\n", sum)
	fmt.Printf("skynet wall_ms %.1f ms\n", ms)
}
