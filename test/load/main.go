// Command load measures the ingester end to end: the simulator sending over
// 1 and 10 subscriptions, the real zccingest binary, NATS (core, and
// JetStream with acks), and a consumer counting what arrives, beside a "raw
// forward" baseline that reads frames and publishes their bytes unchanged.
// With -soak it runs 10 subscriptions at a steady rate while injecting
// drops, token expiries and half-open sockets, and reports what was lost
// beyond the simulator's disconnected windows.
//
//	go run ./test/load -bin bin/zccingest              # the table of make bench
//	go run ./test/load -bin bin/zccingest -soak 5m     # make soak
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{}
	fs.StringVar(&o.bin, "bin", "bin/zccingest", "the zccingest `binary` under test")
	fs.IntVar(&o.events, "events", 50000, "events per throughput run")
	fs.IntVar(&o.latencyEvents, "latency-events", 5000, "events of the latency run at -latency-rate")
	fs.Float64Var(&o.latencyRate, "latency-rate", 1000, "events per second of the latency run")
	fs.IntVar(&o.closes, "closes", 30, "socket closes of the reconnect-gap run (each connection lives a second first)")
	fs.IntVar(&o.repeat, "repeat", 3, "throughput runs per row; the table shows the median")
	fs.StringVar(&o.only, "only", "", "run only the throughput rows whose name contains this (e.g. JetStream), and skip the rest")
	fs.DurationVar(&o.soak, "soak", 0, "run the soak test for this `long` instead of the benchmark")
	fs.Float64Var(&o.soakRate, "soak-rate", 100, "events per second in the soak test")
	fs.BoolVar(&o.wireFloor, "wire-floor", false, "add a row per setup: the raw forward publishing each frame with a typical event message's headers, nothing decoded (the cost of the wire format alone)")
	fs.StringVar(&o.wal, "wal", "interval", "the write-ahead log of zccingest under test: interval, always (wal.fsync) or off")
	forward := fs.Bool("forward", false, "internal: be the raw-forward baseline (reads -forward-config)")
	forwardHeaders := fs.Bool("forward-headers", false, "internal: the raw forward publishes with a typical message's headers")
	fs.StringVar(&o.forwardConfig, "forward-config", "", "internal")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch o.wal {
	case "interval", "always", "off":
	default:
		fmt.Fprintf(stderr, "load: -wal %q is not interval, always or off\n", o.wal)
		return 2
	}
	var err error
	switch {
	case *forward:
		err = rawForward(ctx, o.forwardConfig, *forwardHeaders)
	case o.soak > 0:
		err = soak(ctx, o, stdout)
	default:
		err = bench(ctx, o, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 1
	}
	return 0
}

type options struct {
	bin                   string
	events, latencyEvents int
	latencyRate           float64
	closes, repeat        int
	only                  string
	soak                  time.Duration
	soakRate              float64
	forwardConfig         string
	wireFloor             bool
	wal                   string
}
