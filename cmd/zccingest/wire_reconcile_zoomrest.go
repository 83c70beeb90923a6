//go:build reconcile_zoomrest

package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/reconcile"
	"github.com/zccingest/zccingest/ingest/zoomrest"
	"github.com/zccingest/zccingest/session"
)

// MERGER: with zoomrest merged, move this into newReconcileREST in
// wire_reconcile.go (and drop the file), giving BaseURL from the REST
// helper's config key; the client registers its metrics on run's registry.
func init() {
	newReconcileREST = func(cfg *config.Config, tokens *session.Source, log zerolog.Logger) (reconcile.REST, error) {
		return zoomrest.New(zoomrest.Options{
			Token: func(ctx context.Context) (string, error) {
				t, err := tokens.Token(ctx)
				if err != nil {
					return "", err
				}
				return t.AccessToken, nil
			},
			Invalidate:        tokens.Invalidate,
			RequestsPerMinute: cfg.Reconcile.RequestsPerMinute,
			Logger:            log,
		})
	}
}
