package ingest

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the ingester's Prometheus series, all prefixed zccingest_.
type metrics struct {
	frames       *prometheus.CounterVec   // subscription, module
	events       *prometheus.CounterVec   // subscription, event
	invalid      *prometheus.CounterVec   // subscription
	unknown      *prometheus.CounterVec   // subscription
	duplicates   prometheus.Counter       // dropped in-process as a 1+1 pair's second copy
	singleLeg    *prometheus.CounterVec   // subscription: delivered on that leg only while all were open
	published    prometheus.Counter       // acknowledged by NATS
	publishRetry prometheus.Counter       // publish attempts that failed and were retried
	dropped      *prometheus.CounterVec   // reason
	publishLat   prometheus.Histogram     // received to acknowledged
	deliveryLag  *prometheus.HistogramVec // subscription: received_at - event_ts

	// Children by label values, so that the per-frame path does not hash
	// its labels through the vectors on every frame.
	mu       sync.RWMutex
	children map[labels]any // prometheus.Counter or prometheus.Observer
}

type labels struct{ vec, a, b string }

func (m *metrics) child(key labels, make func() any) any {
	m.mu.RLock()
	c, ok := m.children[key]
	m.mu.RUnlock()
	if ok {
		return c
	}
	c = make()
	m.mu.Lock()
	m.children[key] = c
	m.mu.Unlock()
	return c
}

func (m *metrics) counter(vec *prometheus.CounterVec, a, b string) prometheus.Counter {
	name := "frames"
	if vec == m.events {
		name = "events"
	}
	return m.child(labels{name, a, b}, func() any { return vec.WithLabelValues(a, b) }).(prometheus.Counter)
}

func (m *metrics) lag(sub string) prometheus.Observer {
	return m.child(labels{"lag", sub, ""}, func() any { return m.deliveryLag.WithLabelValues(sub) }).(prometheus.Observer)
}

func newMetrics(reg prometheus.Registerer, bufferDepth func() float64) *metrics {
	m := &metrics{
		children:   map[labels]any{},
		frames:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zccingest_frames_total", Help: "Frames received, by subscription and module."}, []string{"subscription", "module"}),
		events:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zccingest_events_total", Help: "Events decoded, by subscription and event name."}, []string{"subscription", "event"}),
		invalid:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zccingest_invalid_frames_total", Help: "Frames that could not be decoded, published to the invalid subject."}, []string{"subscription"}),
		unknown:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zccingest_unknown_events_total", Help: "Events of a name this version does not model, published under the unknown subject."}, []string{"subscription"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "zccingest_duplicates_total", Help: "Events already received on another subscription within the duplicate window."}),
		singleLeg: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zccingest_single_leg_events_total",
			Help: "Events delivered on this subscription only, none of the others delivering them within the de-duplication window while every subscription was open."}, []string{"subscription"}),
		published:    prometheus.NewCounter(prometheus.CounterOpts{Name: "zccingest_published_total", Help: "Messages acknowledged by NATS."}),
		publishRetry: prometheus.NewCounter(prometheus.CounterOpts{Name: "zccingest_publish_retries_total", Help: "Publishes that failed and were sent again."}),
		dropped:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zccingest_dropped_total", Help: "Events lost, by reason (buffer_full, buffer_bytes, shutdown_timeout, too_large, rejected)."}, []string{"reason"}),
		publishLat:   prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zccingest_publish_latency_seconds", Help: "From frame received to NATS acknowledgement.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}),
		deliveryLag:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "zccingest_delivery_lag_seconds", Help: "received_at - event_ts: how late Zoom delivered the event.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 12)}, []string{"subscription"}),
	}
	reg.MustRegister(m.frames, m.events, m.invalid, m.unknown, m.duplicates, m.singleLeg, m.published, m.publishRetry, m.dropped,
		m.publishLat, m.deliveryLag,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zccingest_buffer_depth", Help: "Events received and not yet acknowledged by NATS, the batch in flight included."}, bufferDepth))
	return m
}
