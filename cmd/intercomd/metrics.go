package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/intercomd/intercomd/access"
)

// metrics are intercomd's Prometheus metrics. They never carry a credential
// value: labels are result, reason, kind and reader ids only.
type metrics struct {
	reg       *prometheus.Registry
	decisions *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	commit    prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intercomd_decisions_total", Help: "Access decisions by result, reason and credential kind.",
		}, []string{"result", "reason", "kind"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "intercomd_decision_seconds",
			Help:    "Time to decide (lookup and rules), excluding the durable commit.",
			Buckets: []float64{5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 250e-6, 1e-3, 5e-3},
		}, []string{"kind"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "intercomd_commit_seconds",
			Help:    "Time from decision to its event being durable (when the relay may fire).",
			Buckets: []float64{250e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 50e-3, 250e-3},
		}),
	}
	m.reg.MustRegister(m.decisions, m.latency, m.commit,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(d *access.Decision, commit time.Duration) {
	result := "deny"
	if d.Grant {
		result = "grant"
	}
	m.decisions.WithLabelValues(result, string(d.Reason), d.Kind.String()).Inc()
	m.latency.WithLabelValues(d.Kind.String()).Observe(d.Took.Seconds())
	m.commit.Observe(commit.Seconds())
}

// gauge registers a gauge read at scrape time.
func (m *metrics) gauge(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// counter registers a counter read at scrape time.
func (m *metrics) counter(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// labeled registers a family of counters read at scrape time, one series per
// key of the map f returns; label names the key.
func (m *metrics) labeled(name, help string, labels []string, f func() map[[2]string]float64) {
	m.reg.MustRegister(&funcCollector{desc: prometheus.NewDesc(name, help, labels, nil), f: f, n: len(labels)})
}

type funcCollector struct {
	desc *prometheus.Desc
	f    func() map[[2]string]float64
	n    int
}

func (c *funcCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c *funcCollector) Collect(ch chan<- prometheus.Metric) {
	for k, v := range c.f() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, v, k[:c.n]...)
	}
}

// serve serves /metrics on addr (a loopback address) until ctx ends.
func (m *metrics) serve(ctx context.Context, addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	context.AfterFunc(ctx, func() { srv.Close() })
	log.Info("metrics listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// registerMetrics exposes the parts' counters.
func (d *daemon) registerMetrics() {
	m := d.metrics
	m.gauge("intercomd_outbox_depth", "Events waiting for the cloud's acknowledgement.", func() float64 {
		n, _ := d.db.OutboxLen()
		return float64(n)
	})
	m.gauge("intercomd_sync_age_seconds", "Seconds since the last sync batch was applied (0: never).", func() float64 {
		if n := d.lastSync.Load(); n != 0 {
			return time.Since(time.Unix(0, n)).Seconds()
		}
		return 0
	})
	m.gauge("intercomd_mqtt_connected", "1 while the MQTT link is connected.", func() float64 {
		if d.link != nil && d.link.client.Stats().Connected {
			return 1
		}
		return 0
	})
	m.gauge("intercomd_lockdown", "1 while in lockdown.", func() float64 {
		if d.engine.Config().Lockdown {
			return 1
		}
		return 0
	})
	m.gauge("intercomd_clock_trusted", "1 while the clock is trusted.", func() float64 {
		if d.clock.now().Trusted {
			return 1
		}
		return 0
	})
	if d.socket != nil {
		m.labeled("intercomd_debug_socket_requests_total", "Technician socket requests by outcome.", []string{"outcome"},
			func() map[[2]string]float64 {
				st := d.socket.Stats()
				return map[[2]string]float64{
					{"all"}: float64(st.Requests), {"denied"}: float64(st.Denied), {"too_large"}: float64(st.TooLarge),
					{"bad_request"}: float64(st.BadRequests), {"audited"}: float64(st.Audited),
					{"audit_failed"}: float64(st.AuditFailed), {"rate_limited"}: float64(st.RateLimited),
				}
			})
	}
	if d.keypad != nil {
		k := d.keypad
		m.labeled("intercomd_keypad_link_errors_total", "TD63 link errors by kind.", []string{"reader", "error"},
			func() map[[2]string]float64 {
				st := k.Stats()
				return map[[2]string]float64{
					{st.Reader, "bad_crc"}:    float64(st.Link.BadCRC),
					{st.Reader, "garbage"}:    float64(st.Link.Garbage),
					{st.Reader, "bad_length"}: float64(st.Link.BadLength),
					{st.Reader, "malformed"}:  float64(st.Link.Malformed),
					{st.Reader, "reconnects"}: float64(st.Reconnects),
				}
			})
	}
	if d.wiegand != nil {
		st := d.wiegand.Stats()
		m.labeled("intercomd_reader_errors_total", "Rejected reader input by reader and kind.", []string{"reader", "error"},
			func() map[[2]string]float64 {
				return map[[2]string]float64{
					{"wiegand0", "noise"}:      float64(st.NoisePulses.Load()),
					{"wiegand0", "both_low"}:   float64(st.BothLow.Load()),
					{"wiegand0", "bad_length"}: float64(st.BadLength.Load()),
					{"wiegand0", "parity"}:     float64(st.Parity.Load()),
					{"wiegand0", "complement"}: float64(st.Complement.Load()),
					{"wiegand0", "overflow"}:   float64(st.Overflow.Load()),
				}
			})
	}
}
