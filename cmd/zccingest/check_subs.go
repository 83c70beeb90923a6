package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/coder/websocket"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/zoomws"
	"github.com/zccingest/zccingest/session"
)

// checkSubscriptions opens each subscription once and reports its
// build_connection; it returns the number of problems. Where Zoom allows
// one connection per subscription this closes a running node's socket:
// --skip-websocket leaves it out.
func checkSubscriptions(ctx context.Context, cfg *config.Config, src *session.Source, tok *session.Token, stdout io.Writer) int {
	problems := 0
	for _, s := range cfg.Subscriptions {
		if msg := probe(ctx, cfg.Zoom.WebSocketURL, s.ID, tok.AccessToken); msg != "" {
			problems++
			fmt.Fprintf(stdout, "subscription %s: FAIL: %s\n", s.Name, src.Redact(msg))
		} else {
			fmt.Fprintf(stdout, "subscription %s: ok (build_connection succeeded)\n", s.Name)
		}
	}
	return problems
}

func probe(ctx context.Context, base, id, token string) string {
	u, err := zoomws.URL(base, id, token)
	if err != nil {
		return err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, u, zoomws.DialOptions())
	if err != nil {
		return err.Error()
	}
	defer ws.Close(websocket.StatusNormalClosure, "check done")
	ws.SetReadLimit(zoomws.ReadLimit)
	_, b, err := ws.Read(ctx)
	if err != nil {
		return "no build_connection: " + err.Error()
	}
	f, err := events.ParseFrame(b)
	if err != nil {
		return err.Error()
	}
	if f.Module != events.ModuleBuildConnection || !f.Success {
		msg := fmt.Sprintf("build_connection failed: %q", f.Content)
		if oe, ok := session.Explain(string(f.Content)); ok {
			msg += fmt.Sprintf(" (%d: %s; %s)", oe.Code, oe.Means, oe.Action)
		}
		return msg
	}
	return ""
}
