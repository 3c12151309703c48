// Command chan is Go's side of fibra's channel and mutex benchmarks. It
// mirrors benches/peers/chan/src/harness.rs: the same workloads, sizes and
// output lines (BENCH <name> <value> <unit>), and the same command line:
// with no benchmark named it runs itself once per benchmark, each in a
// fresh process. Arguments starting with "-" are ignored.
//
// "Workers" are GOMAXPROCS: 1 for pingpong_1w and mutex_uncontended, 2 for
// the rest. The unbuffered channel is Go's make(chan uint64).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Workload sizes; keep in step with harness.rs.
const (
	pingpongRoundTrips  = 100_000
	bufferedMessages    = 1_000_000
	bufferCapacity      = 1024
	producers           = 4
	uncontendedLocks    = 10_000_000
	contenders          = 4
	contendedIncrements = 250_000
	workers             = 2
)

func nsPer(elapsed time.Duration, ops int) float64 {
	return float64(elapsed.Nanoseconds()) / float64(ops)
}

func report(name string, value float64, unit string) {
	fmt.Printf("BENCH %s %.1f %s\n", name, value, unit)
}

func pingpong(name string, procs int) {
	runtime.GOMAXPROCS(procs)
	ping := make(chan uint64)
	pong := make(chan uint64)
	go func() {
		for i := range ping {
			pong <- i
		}
	}()
	start := time.Now()
	for i := uint64(0); i < pingpongRoundTrips; i++ {
		ping <- i
		if <-pong != i {
			panic("pong answered out of turn")
		}
	}
	elapsed := time.Since(start)
	close(ping)
	report(name, nsPer(elapsed, pingpongRoundTrips), "ns")
}

func buffered(name string, n int) {
	runtime.GOMAXPROCS(workers)
	ch := make(chan uint64, bufferCapacity)
	each := uint64(bufferedMessages / n)
	var wg sync.WaitGroup
	start := time.Now()
	for p := 0; p < n; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(0); i < each; i++ {
				ch <- i
			}
		}()
	}
	go func() {
		wg.Wait()
		close(ch)
	}()
	var sum uint64
	for i := range ch {
		sum += i
	}
	elapsed := time.Since(start)
	if want := uint64(n) * (each * (each - 1) / 2); sum != want {
		panic(fmt.Sprintf("consumer saw the wrong messages: sum %d, want %d", sum, want))
	}
	report(name, nsPer(elapsed, bufferedMessages), "ns")
}

func mutexUncontended() {
	runtime.GOMAXPROCS(1)
	var mu sync.Mutex
	counter := 0
	start := time.Now()
	for i := 0; i < uncontendedLocks; i++ {
		mu.Lock()
		counter++
		mu.Unlock()
	}
	elapsed := time.Since(start)
	if counter != uncontendedLocks {
		panic("lost increments")
	}
	report("mutex_uncontended", nsPer(elapsed, uncontendedLocks), "ns")
}

func mutexContended() {
	runtime.GOMAXPROCS(workers)
	var mu sync.Mutex
	counter := 0
	var wg sync.WaitGroup
	start := time.Now()
	for t := 0; t < contenders; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < contendedIncrements; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if counter != contenders*contendedIncrements {
		panic("lost increments")
	}
	report("mutex_contended", nsPer(elapsed, contenders*contendedIncrements), "ns")
}

var benches = []struct {
	name string
	run  func()
}{
	{"pingpong_1w", func() { pingpong("pingpong_1w", 1) }},
	{"pingpong_2w", func() { pingpong("pingpong_2w", workers) }},
	{"buffered_1p", func() { buffered("buffered_1p", 1) }},
	{"buffered_4p", func() { buffered("buffered_4p", producers) }},
	{"mutex_uncontended", mutexUncontended},
	{"mutex_contended", mutexContended},
}

func main() {
	var names []string
	for _, arg := range os.Args[1:] {
		if !strings.HasPrefix(arg, "-") {
			names = append(names, arg)
		}
	}
	if len(names) == 0 {
		exe, err := os.Executable()
		if err != nil {
			panic(err)
		}
		for _, b := range benches {
			cmd := exec.Command(exe, b.name)
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "benchmark %s failed: %v\n", b.name, err)
				os.Exit(1)
			}
		}
		return
	}
	for _, name := range names {
		found := false
		for _, b := range benches {
			if b.name == name {
				b.run()
				found = true
			}
		}
		if !found {
			var known []string
			for _, b := range benches {
				known = append(known, b.name)
			}
			fmt.Fprintf(os.Stderr, "unknown benchmark %q; known: %s\n", name, strings.Join(known, " "))
			os.Exit(2)
		}
	}
}
