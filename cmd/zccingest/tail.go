package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/natsauth"
	"github.com/zccingest/zccingest/ingest/natsout"
)

// cmdTail prints normalized events as they arrive, one line each.
func cmdTail(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	cf := addClientFlags(fs, natsauth.Consumer)
	asJSON := fs.Bool("json", false, "print each message's JSON body as it is")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: zccingest tail [flags] [SUBJECT]\n\nPrints events as they arrive; SUBJECT defaults to zoom.> (everything).")
		fs.PrintDefaults()
	}
	if done, rc := parseFlags(fs, args, stderr); done {
		return rc
	}
	subject := "zoom.>"
	if fs.NArg() > 0 {
		subject = fs.Arg(0)
	}
	n, _, rc := cf.natsSection(natsauth.Consumer, stderr)
	if rc != exitOK {
		return rc
	}
	auth, err := natsout.AuthOptions(natsOptions(n, "zccingest-tail", zerolog.Nop()))
	if err != nil {
		fmt.Fprintf(stderr, "zccingest tail: %v\n", err)
		return exitConfig
	}
	where := redactURLs(n.URL) // a URL may carry user:password
	nc, err := nats.Connect(n.URL, append(auth, nats.Name("zccingest-tail"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true))...)
	if err != nil {
		fmt.Fprintf(stderr, "zccingest tail: connecting to %s: %v\n", where, err)
		return exitFail
	}
	defer nc.Close()
	var mu sync.Mutex // one line at a time
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if *asJSON {
			fmt.Fprintln(stdout, jsonLine(m.Data))
			return
		}
		fmt.Fprintln(stdout, tailLine(m))
	})
	if err != nil {
		fmt.Fprintf(stderr, "zccingest tail: subscribing to %q: %v\n", subject, err)
		return exitConfig
	}
	defer sub.Unsubscribe()
	// Say "tailing" only once the server has the subscription: what is
	// published after this line is printed.
	if err := nc.FlushTimeout(10 * time.Second); err != nil {
		fmt.Fprintf(stderr, "zccingest tail: %s: %v\n", where, err)
		return exitFail
	}
	fmt.Fprintf(stderr, "tailing %s on %s (Ctrl-C to stop)\n", subject, where)
	<-ctx.Done()
	return exitOK
}

// tailLine is one readable line: time, subscription, event, and the ids
// that matter to a CTI adapter. Everything in it that came from outside is
// passed through termSafe.
func tailLine(m *nats.Msg) string {
	return termSafe(rawTailLine(m))
}

func rawTailLine(m *nats.Msg) string {
	sub := m.Header.Get(events.HeaderSubscription)
	if strings.HasSuffix(m.Subject, ".invalid") {
		return fmt.Sprintf("%s %-8s INVALID %s (%d bytes)", time.Now().UTC().Format("15:04:05.000"), sub, m.Header.Get(events.HeaderError), len(m.Data))
	}
	if strings.Contains(m.Subject, ".system.") {
		// Coverage and reconciliation messages: their own bodies, short.
		data := m.Data
		if len(data) > 512 {
			data = append(data[:512:512], "…"...)
		}
		return fmt.Sprintf("%s SYSTEM %s %s", time.Now().UTC().Format("15:04:05.000"), m.Subject, data)
	}
	var body struct {
		Event      string         `json:"event"`
		ReceivedAt time.Time      `json:"received_at"`
		Object     map[string]any `json:"object"`
	}
	if err := json.Unmarshal(m.Data, &body); err != nil {
		return fmt.Sprintf("%s %s: body is not JSON: %v", m.Subject, sub, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-8s %s", body.ReceivedAt.Format("15:04:05.000"), sub, body.Event)
	for _, f := range [][2]string{{"engagement", "engagement_id"}, {"task", "task_id"}, {"user", "user_id"}, {"queue", "cc_queue_id"}} {
		if v, ok := body.Object[f[1]].(string); ok && v != "" {
			fmt.Fprintf(&b, " %s=%s", f[0], v)
		}
	}
	return b.String()
}
