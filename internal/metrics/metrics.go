// Package metrics serves /metrics in Prometheus's format from one registry:
// the register's figures (read from PostgreSQL at scrape time, cached
// briefly), the HTTP requests by route pattern, and the Temporal SDK's own
// metrics through its tally handler. No label carries personal data: the
// labels are stages, ratings, task kinds, route patterns (never a raw path,
// which would carry a person's ID) and status codes.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"

	"github.com/dsr-register/dsr/internal/store"
)

// Registry is the service's one Prometheus registry.
type Registry struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	scope    tally.Scope
	closer   interface{ Close() error }
}

// New makes the registry with the Go runtime's and the process's metrics
// and the HTTP request metrics.
func New() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r := &Registry{reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dsr_http_requests_total",
			Help: "HTTP requests answered, by route pattern (never the raw path), method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dsr_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
	}
	reg.MustRegister(r.requests, r.duration)
	return r
}

// Prometheus is the registry itself, for further collectors.
func (r *Registry) Prometheus() *prometheus.Registry { return r.reg }

// Temporal is a metrics handler for the Temporal client (and so its
// worker) reporting into this registry, with the SDK's Prometheus naming
// (temporal_…). Close stops its reporting loop.
func (r *Registry) Temporal() client.MetricsHandler {
	if r.scope == nil {
		reporter := tallyprom.NewReporter(tallyprom.Options{Registerer: r.reg})
		scope, closer := tally.NewRootScope(tally.ScopeOptions{
			CachedReporter:  reporter,
			Separator:       tallyprom.DefaultSeparator,
			SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
		}, time.Second)
		r.scope, r.closer = sdktally.NewPrometheusNamingScope(scope), closer
	}
	return sdktally.NewMetricsHandler(r.scope)
}

// Close stops the Temporal metrics' reporting loop.
func (r *Registry) Close() {
	if r.closer != nil {
		_ = r.closer.Close()
	}
}

// Handler serves /metrics.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}

// router is what http.ServeMux offers: the pattern a request matches.
type router interface {
	Handler(r *http.Request) (http.Handler, string)
}

// Observe counts every request next answers by the pattern it matched.
// next is usually a ServeMux whose handlers may be ServeMuxes in turn (the
// API's); the innermost pattern names the route ("GET
// /api/v1/people/{id}"), so no person's ID becomes a label. A request no
// pattern matches is counted as "unmatched".
func (r *Registry) Observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		route := routeOf(next, req)
		method := req.Method
		if _, path, ok := strings.Cut(route, " "); ok {
			route = path
		}
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		started := time.Now()
		next.ServeHTTP(rec, req)
		r.duration.WithLabelValues(route, method).Observe(time.Since(started).Seconds())
		r.requests.WithLabelValues(route, method, strconv.Itoa(rec.code)).Inc()
	})
}

func routeOf(h http.Handler, req *http.Request) string {
	route := ""
	for range 4 { // muxes nest a level or two; never follow a loop
		m, ok := h.(router)
		if !ok {
			break
		}
		inner, pattern := m.Handler(req)
		if pattern == "" {
			break
		}
		h, route = inner, pattern
	}
	if route == "" {
		return "unmatched"
	}
	return route
}

type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Figures reads the register's gauges; *store.Store is one.
type Figures interface {
	Gauges(ctx context.Context, now time.Time, ackBounds []time.Duration) (store.OversightGauges, error)
}

// ackBounds are the acknowledgement-time histogram's buckets.
var ackBounds = []time.Duration{
	5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
	4 * time.Hour, 8 * time.Hour, 24 * time.Hour, 72 * time.Hour,
}

// RegisterFigures adds the register's figures, read from the database at
// scrape time within timeout and reused for up to maxAge, so frequent
// scrapes cost one query set at most every maxAge. A scrape the database
// does not answer in time reports dsr_register_up 0 and no figures.
func (r *Registry) RegisterFigures(f Figures, timeout, maxAge time.Duration, logger *slog.Logger) {
	r.reg.MustRegister(&registerCollector{figures: f, timeout: timeout, maxAge: maxAge, logger: logger})
}

var (
	descUp = prometheus.NewDesc("dsr_register_up",
		"1 if the register's figures were read from the database at this scrape (or within the cache time), 0 if it did not answer in time.", nil, nil)
	descPeople = prometheus.NewDesc("dsr_people",
		"People by rating (\"none\" before a first rating) and stage.", []string{"rating", "stage"}, nil)
	descTasksOpen = prometheus.NewDesc("dsr_tasks_open",
		"Open tasks by kind.", []string{"kind"}, nil)
	descTasksOverdue = prometheus.NewDesc("dsr_tasks_overdue",
		"Open tasks past their due date, by kind.", []string{"kind"}, nil)
	descUnacked = prometheus.NewDesc("dsr_alerts_unacknowledged",
		"Red alerts open that nobody has acknowledged.", nil, nil)
	descAckTime = prometheus.NewDesc("dsr_alert_acknowledgement_seconds",
		"Clock time from a red alert to its acknowledgement, every acknowledged alert (read from the database).", nil, nil)
	descWaiting = prometheus.NewDesc("dsr_notifications_waiting",
		"Notifications waiting to be delivered.", nil, nil)
	descFailing = prometheus.NewDesc("dsr_notifications_failing",
		"Waiting notifications that have failed at least one attempt.", nil, nil)
	descAttention = prometheus.NewDesc("dsr_notifications_needing_attention",
		"Notifications set aside as needing attention (refused for good or unreadable).", nil, nil)
)

type registerCollector struct {
	figures Figures
	timeout time.Duration
	maxAge  time.Duration
	logger  *slog.Logger

	mu     sync.Mutex
	cached store.OversightGauges
	readAt time.Time
}

func (c *registerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descPeople, descTasksOpen, descTasksOverdue, descUnacked, descAckTime, descWaiting, descFailing, descAttention} {
		ch <- d
	}
}

func (c *registerCollector) read() (store.OversightGauges, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.readAt.IsZero() && time.Since(c.readAt) < c.maxAge {
		return c.cached, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	g, err := c.figures.Gauges(ctx, time.Now(), ackBounds)
	if err != nil {
		c.logger.Warn("metrics: register figures not read", "error", err)
		return store.OversightGauges{}, false
	}
	c.cached, c.readAt = g, time.Now()
	return g, true
}

func (c *registerCollector) Collect(ch chan<- prometheus.Metric) {
	g, ok := c.read()
	if !ok {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	for _, p := range g.People {
		rating := p.Rating
		if rating == "" {
			rating = "none"
		}
		ch <- prometheus.MustNewConstMetric(descPeople, prometheus.GaugeValue, float64(p.People), rating, p.Stage)
	}
	for _, t := range g.Tasks {
		ch <- prometheus.MustNewConstMetric(descTasksOpen, prometheus.GaugeValue, float64(t.Open), t.Kind)
		ch <- prometheus.MustNewConstMetric(descTasksOverdue, prometheus.GaugeValue, float64(t.Overdue), t.Kind)
	}
	ch <- prometheus.MustNewConstMetric(descUnacked, prometheus.GaugeValue, float64(g.UnacknowledgedAlerts))
	buckets := map[float64]uint64{}
	for i, b := range g.AckTimes.Bounds {
		buckets[b.Seconds()] = g.AckTimes.Within[i]
	}
	ch <- prometheus.MustNewConstHistogram(descAckTime, g.AckTimes.Count, g.AckTimes.Sum.Seconds(), buckets)
	ch <- prometheus.MustNewConstMetric(descWaiting, prometheus.GaugeValue, float64(g.Notifications.Waiting))
	ch <- prometheus.MustNewConstMetric(descFailing, prometheus.GaugeValue, float64(g.Notifications.Failing))
	ch <- prometheus.MustNewConstMetric(descAttention, prometheus.GaugeValue, float64(g.Notifications.NeedsAttention))
}
