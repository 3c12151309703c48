// nats.go side of scripts/bench-nats: the same four workloads as
// benches/peers/nats (fibra-nats and async-nats), written with the nats.go
// client that Debian packages (golang-github-nats-io-go-nats-dev).
//
// Usage: nats_go URL WORKLOAD N   (WORKLOAD: pub16 pub1k pubsub16 reqrep)
// Prints `BENCH nats.go <workload> <value> <unit>`.
//
// Built in GOPATH mode against /usr/share/gocode (see scripts/bench-nats),
// so it needs no module download.
package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: nats_go URL WORKLOAD N")
		os.Exit(2)
	}
	url, workload := os.Args[1], os.Args[2]
	n, err := strconv.Atoi(os.Args[3])
	check(err)
	c, err := nats.Connect(url)
	check(err)
	defer c.Close()

	switch workload {
	case "pub16", "pub1k":
		size := 16
		if workload == "pub1k" {
			size = 1024
		}
		payload := bytes.Repeat([]byte{'x'}, size)
		start := time.Now()
		for i := 0; i < n; i++ {
			check(c.Publish("bench.pub", payload))
		}
		check(c.FlushTimeout(60 * time.Second))
		report(workload, float64(n)/time.Since(start).Seconds(), "msgs/s")
	case "pubsub16":
		sc, err := nats.Connect(url)
		check(err)
		defer sc.Close()
		sub, err := sc.SubscribeSync("bench.ps")
		check(err)
		// Room for every message, as the other two peers have (nats.go
		// drops past 512 Ki messages otherwise).
		check(sub.SetPendingLimits(-1, -1))
		check(sc.Flush())
		payload := bytes.Repeat([]byte{'x'}, 16)
		start := time.Now()
		done := make(chan struct{})
		go func() {
			for i := 0; i < n; i++ {
				if _, err := sub.NextMsg(30 * time.Second); err != nil {
					fmt.Fprintln(os.Stderr, "a message was lost:", err)
					os.Exit(1)
				}
			}
			close(done)
		}()
		for i := 0; i < n; i++ {
			check(c.Publish("bench.ps", payload))
		}
		check(c.FlushTimeout(60 * time.Second))
		<-done
		report(workload, float64(n)/time.Since(start).Seconds(), "msgs/s")
	case "reqrep":
		sc, err := nats.Connect(url)
		check(err)
		defer sc.Close()
		_, err = sc.Subscribe("bench.rr", func(m *nats.Msg) {
			check(m.Respond(m.Data))
		})
		check(err)
		check(sc.Flush())
		lat := make([]float64, 0, n)
		payload := []byte("ping")
		for i := 0; i < n; i++ {
			t := time.Now()
			_, err := c.Request("bench.rr", payload, 5*time.Second)
			check(err)
			lat = append(lat, float64(time.Since(t).Nanoseconds())/1000.0)
		}
		sort.Float64s(lat)
		report(workload, lat[len(lat)/2], "us-median")
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", workload)
		os.Exit(2)
	}
}

func report(workload string, value float64, unit string) {
	fmt.Printf("BENCH nats.go %s %.1f %s\n", workload, value, unit)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "nats_go:", err)
		os.Exit(1)
	}
}
