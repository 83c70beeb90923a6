package reconcile

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	gaps   *prometheus.CounterVec
	events *prometheus.CounterVec
	calls  prometheus.Counter
}

// Label values: fixed here, never from outside input.
const (
	gapComplete   = "complete"   // every recoverable event of it published
	gapIncomplete = "incomplete" // done, with errors in its summary
	gapTooLong    = "too_long"   // longer than max_gap: not queried
	gapRetried    = "retried"    // an attempt failed; tried again later

	eventPublished = "published"   // rebuilt and published
	eventReceived  = "received"    // received live, or published by an earlier run
	eventOutside   = "outside_gap" // rebuilt from the margin, outside the gap
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		gaps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zccingest_reconcile_gaps_total",
			Help: "Gaps reconciled from Zoom's REST API, by result (complete, incomplete, too_long, retried).",
		}, []string{"result"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zccingest_reconcile_events_total",
			Help: "Events rebuilt from Zoom's REST API, by result (published, received: not published again, outside_gap).",
		}, []string{"result"}),
		calls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zccingest_reconcile_rest_calls_total",
			Help: "Calls the reconciler made to Zoom's REST client (each follows every page).",
		}),
	}
	for _, v := range []string{gapComplete, gapIncomplete, gapTooLong, gapRetried} {
		m.gaps.WithLabelValues(v)
	}
	for _, v := range []string{eventPublished, eventReceived, eventOutside} {
		m.events.WithLabelValues(v)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.gaps, m.events, m.calls} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("reconcile: registering metrics: %w", err)
		}
	}
	return m, nil
}
