// Go peer for the HTTP client benchmark: `http_client URL CONCURRENCY
// SECONDS` runs CONCURRENCY goroutines looping on keep-alive GETs (reading
// each body to the end) and prints `BENCH http_client/go <requests/s>`.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := "http://127.0.0.1:8080/"
	conc, secs := 64, 5
	if len(os.Args) > 1 {
		url = os.Args[1]
	}
	if len(os.Args) > 2 {
		conc, _ = strconv.Atoi(os.Args[2])
	}
	if len(os.Args) > 3 {
		secs, _ = strconv.Atoi(os.Args[3])
	}
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxIdleConns: conc, DisableCompression: false}
	client := &http.Client{Transport: tr}
	var count int64
	var stop int32
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.LoadInt32(&stop) == 0 {
				resp, err := client.Get(url)
				if err != nil {
					panic(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || len(body) == 0 {
					panic(fmt.Sprint("bad body: ", err))
				}
				atomic.AddInt64(&count, 1)
			}
		}()
	}
	time.Sleep(time.Duration(secs) * time.Second)
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	rate := float64(atomic.LoadInt64(&count)) / time.Since(start).Seconds()
	fmt.Printf("BENCH http_client/go %.0f\n", rate)
}
