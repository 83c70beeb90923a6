// Command zccingest receives Zoom Contact Center events over WebSocket event
// subscriptions and publishes them to NATS.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
)

func main() {
	// Milliseconds in every log line's time: reconnect gaps are measured in them.
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	// SIGHUP too: a closed terminal or a supervisor's reload must drain
	// like a stop, not kill the process with events in its buffer.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2 // bad configuration or usage
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "hold every subscription and publish events to NATS", cmdRun},
		{"check", "validate a config, fetch a token, check scopes and subscriptions", cmdCheck},
		{"token", "OAuth-app mode: 'token exchange' swaps an authorization code for tokens", cmdToken},
		{"sim", "run the Zoom simulator on loopback", cmdSim},
		{"replay", "publish captured frames through the decode and publish path", cmdReplay},
		{"tail", "print normalized events as they arrive", cmdTail},
		{"version", "print version, commit and Go version", cmdVersion},
		{"archive", "poll Zoom's archived meeting files into the NATS Object Store", cmdArchive},
		{"status", "coverage now, and every gap and interruption of the last day", cmdStatus},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitConfig
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "zccingest: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitConfig
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: zccingest <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'zccingest <command> -h' for a command's flags.")
}
