// Command runtime is Go's side of fibra's runtime benchmarks. It mirrors
// benches/peers/src/harness.rs: the same workloads, sizes and output lines
// (BENCH <name> <value> <unit>), and the same command line: with no
// benchmark named it runs itself once per benchmark, each in a fresh
// process. Arguments starting with "-" are ignored.
//
// GOMAXPROCS is Go's default (one per core) except in pingpong, which runs
// on one.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Workload sizes; keep in step with benches/peers/src/harness.rs.
const (
	pingpongRoundTrips = 100_000
	spawnJoins         = 100_000
	spawnJoinWarmup    = 1_000
	sleepers           = 100_000
	sleeperNap         = 5 * time.Second
	sleeperSettle      = 1 * time.Second
	timers             = 1_000_000
)

// timerDelay is the delay of the i'th timer in the timers benchmark: 5 s
// plus a spread over one second, as in harness.rs.
func timerDelay(i int) time.Duration {
	return 5*time.Second + time.Duration(i*7919%1_000_000)*time.Microsecond
}

// rssBytes is the resident set size: resident pages from /proc/self/statm
// times 4096, as the Rust programs read it.
func rssBytes() uint64 {
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		panic(err)
	}
	fields := strings.Fields(string(statm))
	resident, err := strconv.ParseUint(fields[1], 10, 64)
	if err != nil {
		panic(err)
	}
	return resident * 4096
}

func nsPer(elapsed time.Duration, ops int) float64 {
	return float64(elapsed.Nanoseconds()) / float64(ops)
}

func report(name string, value float64, unit string) {
	fmt.Printf("BENCH %s %.1f %s\n", name, value, unit)
}

// pingpong: two goroutines on one P hand a token back and forth over two
// unbuffered channels.
func pingpong() {
	runtime.GOMAXPROCS(1)
	ping := make(chan struct{})
	pong := make(chan struct{})
	elapsed := make(chan time.Duration)
	go func() {
		start := time.Now()
		for i := 0; i < pingpongRoundTrips; i++ {
			ping <- struct{}{}
			<-pong
		}
		close(ping)
		elapsed <- time.Since(start)
	}()
	go func() {
		for range ping {
			pong <- struct{}{}
		}
	}()
	report("pingpong", nsPer(<-elapsed, pingpongRoundTrips), "ns")
}

// spawnJoin: from a goroutine, start an empty goroutine and wait for it to
// finish, one at a time. The join is one unbuffered channel reused for every
// goroutine, the cheapest join Go has (a WaitGroup is no faster).
func spawnJoin() {
	done := make(chan struct{})
	run := func(n int) {
		for i := 0; i < n; i++ {
			go func() { done <- struct{}{} }()
			<-done
		}
	}
	run(spawnJoinWarmup)
	start := time.Now()
	run(spawnJoins)
	report("spawn_join", nsPer(time.Since(start), spawnJoins), "ns")
}

// sleepMem: resident memory per goroutine while 100,000 goroutines sleep,
// and the time to start them. Joined with a WaitGroup.
func sleepMem() {
	var wg sync.WaitGroup
	wg.Add(sleepers)
	before := rssBytes()
	start := time.Now()
	for i := 0; i < sleepers; i++ {
		go func() {
			time.Sleep(sleeperNap)
			wg.Done()
		}()
	}
	spawnTime := time.Since(start)
	time.Sleep(sleeperSettle)
	after := rssBytes()
	wg.Wait()
	if spawnTime+sleeperSettle >= sleeperNap {
		fmt.Fprintf(os.Stderr, "warning: sleep_mem: spawning took %v, so some sleepers had woken before the resident set was read; the per-task figure is too low\n", spawnTime)
	}
	var grown uint64
	if after > before {
		grown = after - before
	}
	report("sleep_mem", float64(grown)/sleepers, "B")
	report("sleep_spawn", spawnTime.Seconds()*1e3, "ms")
}

// timerBench: insert 1,000,000 timers with time.AfterFunc, then Stop them
// all. AfterFunc is Go's runtime timer with no channel attached, the
// closest match to a timer that wakes a parked task.
func timerBench() {
	all := make([]*time.Timer, timers)
	fire := func() { panic("timer fired during the benchmark") }
	start := time.Now()
	for i := range all {
		all[i] = time.AfterFunc(timerDelay(i), fire)
	}
	for _, t := range all {
		t.Stop()
	}
	report("timers", nsPer(time.Since(start), timers), "ns")
}

var benches = []struct {
	name string
	run  func()
}{
	{"pingpong", pingpong},
	{"spawn_join", spawnJoin},
	{"sleep_mem", sleepMem},
	{"timers", timerBench},
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
			fmt.Fprintf(os.Stderr, "unknown benchmark %q\n", name)
			os.Exit(2)
		}
	}
}
