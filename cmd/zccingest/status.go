package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/coverage"
	"github.com/zccingest/zccingest/ingest/natsauth"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/ingest/state"
)

// statusReport is what 'zccingest status --json' prints.
type statusReport struct {
	Account  string        `json:"account"`
	At       time.Time     `json:"at"`
	Coverage coverage.View `json:"coverage"`
	// Gaps and Interruptions of the last day, as published (from the
	// ledger's markers).
	Gaps          []events.Gap `json:"gaps"`
	Interruptions []events.Gap `json:"interruptions"`
	// The live state: every agent the state knows, and the engagements
	// not yet swept (ended ones stay state.ended_ttl). Empty when the
	// state is off.
	Agents      []state.Agent      `json:"agents"`
	Engagements []state.Engagement `json:"engagements"`
}

// cmdStatus prints the coverage now, and every gap and interruption of the
// last day, from the ledger bucket.
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	cf := addClientFlags(fs, natsauth.Consumer)
	asJSON := fs.Bool("json", false, "print one JSON document")
	account := fs.String("account", "", "the Zoom `account` id (default: zoom.account_id of --config)")
	stale := fs.Duration("stale-after", config.DefaultCoverageStaleAfter, "a node's record older than this counts as gone (default: coverage.stale_after of --config)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: zccingest status [flags]\n\nPrints whether the account is covered now and by which legs, and every gap and interruption of the last day.")
		fs.PrintDefaults()
	}
	if done, rc := parseFlags(fs, args, stderr); done {
		return rc
	}
	n, cfg, rc := cf.natsSection(natsauth.Consumer, stderr)
	if rc != exitOK {
		return rc
	}
	window := config.DefaultCoverageWindow
	buckets := [2]string{state.DefaultAgentsBucket, state.DefaultEngagementsBucket}
	if cfg != nil {
		buckets = [2]string{cfg.State.AgentsBucket, cfg.State.EngagementsBucket}
		if *account == "" {
			*account = cfg.Zoom.AccountID
		}
		if !flagSet(fs, "stale-after") {
			*stale = cfg.Coverage.StaleAfter.D()
		}
		window = cfg.Coverage.Window.D()
	}
	if *account == "" {
		fmt.Fprintln(stderr, "zccingest status: --account is required without a --config that names zoom.account_id")
		return exitConfig
	}
	auth, err := natsout.AuthOptions(natsOptions(n, "zccingest-status", zerolog.Nop()))
	if err != nil {
		fmt.Fprintf(stderr, "zccingest status: %v\n", err)
		return exitConfig
	}
	where := redactURLs(n.URL)
	nc, err := nats.Connect(n.URL, append(auth, nats.Name("zccingest-status"))...)
	if err != nil {
		fmt.Fprintf(stderr, "zccingest status: connecting to %s: %v\n", where, err)
		return exitFail
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r, err := readStatus(ctx, nc, *account, *stale, window, buckets)
	if err != nil {
		fmt.Fprintf(stderr, "zccingest status: %s: %v\n", where, err)
		return exitFail
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return exitFail
		}
		return exitOK
	}
	printStatus(stdout, r)
	return exitOK
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func readStatus(ctx context.Context, nc *nats.Conn, account string, stale, window time.Duration, buckets [2]string) (*statusReport, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	r := &statusReport{Account: account, At: now.UTC()}
	kv, err := js.KeyValue(ctx, coverage.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("no coverage ledger (bucket %s): has 'zccingest run' with a JetStream stream run here?", coverage.Bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", coverage.Bucket, err)
	}
	recs, err := coverage.Records(ctx, kv, account)
	if err != nil {
		return nil, err
	}
	since := now.Add(-coverage.DefaultRetention).UnixMilli()
	r.Coverage = coverage.Analyze(account, recs, now, stale, window, since)
	gaps, ints, err := coverage.Published(ctx, kv, account)
	if err != nil {
		return nil, err
	}
	r.Gaps, r.Interruptions = recent(gaps, since), recent(ints, since)
	r.Agents, r.Engagements = []state.Agent{}, []state.Engagement{}
	if kv, err := js.KeyValue(ctx, buckets[0]); err == nil {
		if r.Agents, err = state.Agents(ctx, kv, account); err != nil {
			return nil, fmt.Errorf("reading bucket %s: %w", buckets[0], err)
		}
	} else if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("opening bucket %s: %w", buckets[0], err)
	}
	if kv, err := js.KeyValue(ctx, buckets[1]); err == nil {
		if r.Engagements, err = state.Engagements(ctx, kv, account); err != nil {
			return nil, fmt.Errorf("reading bucket %s: %w", buckets[1], err)
		}
	} else if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("opening bucket %s: %w", buckets[1], err)
	}
	return r, nil
}

func recent(gs []events.Gap, since int64) []events.Gap {
	out := []events.Gap{}
	for _, g := range gs {
		if g.To >= since {
			out = append(out, g)
		}
	}
	return out
}

// printStatus writes the report as tables a person reads at a glance.
// Everything in it from outside (node and subscription names, the
// account) was bounded to [A-Za-z0-9_-] by config validation and KeyToken
// or is printed through termSafe.
func printStatus(w io.Writer, r *statusReport) {
	v := r.Coverage
	ts := func(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.000") }
	state := "NOT COVERED"
	if v.Covered {
		state = "covered"
	}
	fmt.Fprintf(w, "account %s: %s now; %.2f%% covered over the window\n\n", termSafe(r.Account), state, 100*v.Ratio)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSUBSCRIPTION\tSTATE\tOPEN SINCE (UTC)")
	for _, l := range v.Legs {
		st, since := "closed", "-"
		switch {
		case l.Stale && l.Stopped != 0:
			st = "node stopped " + ts(l.Stopped)
		case l.Stale:
			st = "node gone (stale record)"
		case l.OpenSince != 0:
			st, since = "open", ts(l.OpenSince)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", termSafe(l.Node), termSafe(l.Subscription), st, since)
	}
	tw.Flush()
	for _, part := range []struct {
		title string
		gs    []events.Gap
	}{{"GAPS (last day)", r.Gaps}, {"INTERRUPTIONS (last day)", r.Interruptions}} {
		fmt.Fprintf(w, "\n%s: %d\n", part.title, len(part.gs))
		if len(part.gs) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FROM (UTC)\tTO (UTC)\tDURATION\tCAUSE\tNODES\tSUBSCRIPTIONS")
		for _, g := range part.gs {
			d := time.Duration(g.To-g.From) * time.Millisecond
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ts(g.From), ts(g.To), d, termSafe(g.Cause),
				termSafe(strings.Join(g.Nodes, ",")), termSafe(strings.Join(g.Subscriptions, ",")))
		}
		tw.Flush()
	}
	printState(w, r, ts)
}

// cmpOr returns the first of a and b that is not empty.
func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// printState writes the agents logged in and the open engagements.
func printState(w io.Writer, r *statusReport, ts func(int64) string) {
	in := 0
	for _, a := range r.Agents {
		if a.LoggedIn {
			in++
		}
	}
	fmt.Fprintf(w, "\nAGENTS logged in: %d (of %d known)\n", in, len(r.Agents))
	if in > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tNAME\tSTATUS\tSUB-STATUS\tENGAGEMENTS\tSINCE (UTC)\tSOURCE")
		for _, a := range r.Agents {
			if a.LoggedIn {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", termSafe(a.UserID), termSafe(a.DisplayName), termSafe(a.Status),
					termSafe(a.SubStatus), termSafe(strings.Join(a.Engagements, ",")), ts(a.EventTS), termSafe(a.Source))
			}
		}
		tw.Flush()
	}
	open := 0
	for _, e := range r.Engagements {
		if !e.Ended {
			open++
		}
	}
	fmt.Fprintf(w, "\nENGAGEMENTS open: %d\n", open)
	if open == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENGAGEMENT\tCHANNEL\tDIRECTION\tQUEUE\tAGENTS\tSTATE\tRECORDING\tSTARTED (UTC)")
	for _, e := range r.Engagements {
		if e.Ended {
			continue
		}
		st := "waiting"
		switch {
		case e.WrapUp:
			st = "wrap-up"
		case e.Hold:
			st = "hold"
		case e.Transfer != "":
			st = "transfer " + e.Transfer
		case e.Answered:
			st = "answered"
		}
		started := "-"
		if e.StartedAt != 0 {
			started = ts(e.StartedAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", termSafe(e.EngagementID), termSafe(e.Channel), termSafe(e.Direction),
			termSafe(cmpOr(e.QueueName, e.QueueID)), termSafe(strings.Join(e.Agents, ",")), termSafe(st), termSafe(e.Recording), started)
	}
	tw.Flush()
}
