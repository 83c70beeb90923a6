package state

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	events    *prometheus.CounterVec // result
	errors    *prometheus.CounterVec // op
	conflicts prometheus.Counter
	swept     prometheus.Counter
	refreshes *prometheus.CounterVec // result
	eventTS   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zccingest_state_events_total", Help: "Events the state builder read, by result (applied, ignored, invalid)."}, []string{"result"}),
		errors:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zccingest_state_errors_total", Help: "Failed state operations, retried, by operation (kv, sweep)."}, []string{"op"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{Name: "zccingest_state_conflicts_total", Help: "KV writes retried because another writer changed the key first."}),
		swept:     prometheus.NewCounter(prometheus.CounterOpts{Name: "zccingest_state_swept_total", Help: "Ended engagements removed from the engagements bucket."}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zccingest_state_refreshes_total", Help: "REST refreshes of the agents, by result (ok, error)."}, []string{"result"}),
		eventTS:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "zccingest_state_last_event_timestamp_seconds", Help: "event_ts of the last event applied to the state."}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.errors, m.conflicts, m.swept, m.refreshes, m.eventTS)
	}
	return m
}
