package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/zoomrest"
	"github.com/zccingest/zccingest/session"
)

// stateRESTPerMinute is the live-state refresh's REST budget: one agent
// listing (a few pages) on start and after each gap.
const stateRESTPerMinute = 60

// newRESTClient returns a Zoom REST client on zoom.api_url with the
// session's tokens and a budget of perMinute requests of its own. Each
// user (the reconciler, the state refresh) has its own client, so that a
// long reconciliation cannot starve the refresh of its budget; Zoom's
// rate-limit headers still pace each of them.
func newRESTClient(cfg *config.Config, tokens *session.Source, perMinute int, reg prometheus.Registerer, log zerolog.Logger) (*zoomrest.Client, error) {
	return zoomrest.New(zoomrest.Options{
		BaseURL: cfg.Zoom.APIURL,
		Token: func(ctx context.Context) (string, error) {
			t, err := tokens.Token(ctx)
			if err != nil {
				return "", err
			}
			return t.AccessToken, nil
		},
		Invalidate:        tokens.Invalidate,
		RequestsPerMinute: perMinute,
		Logger:            log,
		Registerer:        reg,
	})
}
