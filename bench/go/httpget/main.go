// httpget: the Go twin of bench/httpget.c (B13).  N goroutines share one
// http.Client whose transport keeps up to N idle connections to the host
// (one kept-alive connection per goroutine, as each curl handle has), and
// make GETs of GORO_BENCH_URL until TOTAL requests are done; every status
// and body is checked.
//
//	httpget N [TOTAL]         (default 500 clients, 100000 requests)
//
// Metric (last line): requests per second.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	n, total := 500, 100000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		total, _ = strconv.Atoi(os.Args[2])
	}
	url := os.Getenv("GORO_BENCH_URL")
	if url == "" {
		fail("set GORO_BENCH_URL (bench/run does)")
	}
	if n <= 0 || total < n {
		fail("usage: httpget N [TOTAL]")
	}
	perClient := total / n
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        n,
		MaxIdleConnsPerHost: n,
		DisableCompression:  true,
	}}

	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer wg.Done()
			<-start
			for j := 0; j < perClient; j++ {
				resp, err := client.Get(url)
				if err != nil {
					fail("GET %s: %v", url, err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || string(body) != "hello, goro\n" {
					fail("GET %s: status %d, body %q, %v", url, resp.StatusCode, body, err)
				}
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	secs := time.Since(t0).Seconds()
	done := perClient * n
	fmt.Printf("httpget_%d: %d requests in %.3f s\n", n, done, secs)
	fmt.Printf("httpget_%d req_per_s %.1f req/s\n", n, float64(done)/secs)
}
