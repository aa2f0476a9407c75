// B7 memory, Go twin of bench/memory.c: N goroutines (argument 1) each
// blocked receiving from one chan struct{}; RSS growth per goroutine
// (/proc/self/statm before the first spawn and after all are parked:
// runtime.NumGoroutine() has reached N + 1, main included, plus a 50 ms
// settle) and spawn time (first spawn until the last goroutine has arrived
// at its receive).  Then close the channel and wait for all (a WaitGroup).
// Argument 2, "bytes" (default) or "spawn", picks the metric printed last.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func rssPages() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: cannot read /proc/self/statm")
		os.Exit(1)
	}
	f := strings.Fields(string(b))
	v, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: cannot parse /proc/self/statm")
		os.Exit(1)
	}
	return v
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	n := int64(100000)
	last := "bytes"
	if len(os.Args) > 1 {
		v, err := strconv.ParseInt(os.Args[1], 10, 64)
		if err != nil || v <= 0 {
			fail("argument 1: goroutine count")
		}
		n = v
	}
	if len(os.Args) > 2 {
		last = os.Args[2]
	}
	if last != "bytes" && last != "spawn" {
		fail("argument 2: bytes or spawn")
	}
	var (
		gate    = make(chan struct{})
		ready   = make(chan struct{}, 1)
		wg      sync.WaitGroup
		arrived int64
		tLast   time.Time
	)
	rss0 := rssPages()
	wg.Add(int(n))
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		go func() {
			if atomic.AddInt64(&arrived, 1) == n {
				tLast = time.Now()
				ready <- struct{}{}
			}
			<-gate
			wg.Done()
		}()
	}
	<-ready
	spawnMs := float64(tLast.Sub(t0).Nanoseconds()) / 1e6
	for int64(runtime.NumGoroutine()) < n+1 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	alive := int64(runtime.NumGoroutine())
	rss1 := rssPages()
	bytesPer := float64(rss1-rss0) * float64(os.Getpagesize()) / float64(n)
	t1 := time.Now()
	close(gate)
	wg.Wait()
	teardownMs := float64(time.Since(t1).Nanoseconds()) / 1e6
	if alive < n+1 {
		fail("%d goroutines alive, want %d", alive, n+1)
	}
	tag := strconv.FormatInt(n, 10)
	if n%1000000 == 0 {
		tag = strconv.FormatInt(n/1000000, 10) + "m"
	} else if n%1000 == 0 {
		tag = strconv.FormatInt(n/1000, 10) + "k"
	}
	fmt.Printf("memory: %d goroutines parked (%d alive), %d Ps; close + wait %.1f ms\n",
		n, alive, runtime.GOMAXPROCS(0), teardownMs)
	b := fmt.Sprintf("memory_%s_bytes bytes_per_goroutine %.1f B", tag, bytesPer)
	s := fmt.Sprintf("memory_%s_spawn spawn_ms %.1f ms", tag, spawnMs)
	if last == "bytes" {
		fmt.Println(s)
		fmt.Println(b)
	} else {
		fmt.Println(b)
		fmt.Println(s)
	}
}
