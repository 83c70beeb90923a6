package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/zoomws"
)

// rawForward is the baseline: one token, each subscription's socket read
// frame by frame, every frame published unchanged, nothing decoded. Its
// throughput is what the ingester's is measured against.
func rawForward(ctx context.Context, cfgPath string) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	form := url.Values{"grant_type": {"account_credentials"}, "account_id": {cfg.Zoom.AccountID}}
	req, _ := http.NewRequestWithContext(ctx, "POST", cfg.Zoom.TokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(cfg.Zoom.ClientID, string(cfg.Zoom.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	nc, err := nats.Connect(cfg.NATS.URL)
	if err != nil {
		return err
	}
	defer nc.Close()
	var js jetstream.JetStream
	if cfg.NATS.StreamName() != "" {
		js, _ = jetstream.New(nc)
	}
	var wg sync.WaitGroup
	for _, s := range cfg.Subscriptions {
		u, _ := zoomws.URL(cfg.Zoom.WebSocketURL, s.ID, tok.AccessToken)
		ws, _, err := websocket.Dial(ctx, u, zoomws.DialOptions())
		if err != nil {
			return err
		}
		ws.SetReadLimit(zoomws.ReadLimit)
		subject := "zoom.raw." + s.Name
		if _, _, err := ws.Read(ctx); err != nil { // build_connection
			return err
		}
		wg.Go(func() {
			defer ws.CloseNow()
			for {
				_, b, err := ws.Read(ctx)
				if err != nil {
					return
				}
				if js != nil {
					if _, err := js.PublishAsync(subject, b); err != nil {
						fmt.Println("forward:", err)
					}
				} else {
					nc.Publish(subject, b)
				}
			}
		})
	}
	wg.Wait()
	if js != nil {
		<-js.PublishAsyncComplete()
	}
	return nc.Flush()
}
