package chaos

import (
	"math"
	"strings"
	"testing"
	"time"
)

var rssCases = []struct {
	name, in string
	want     float64
	ok       bool
}{
	{"status", "Name:\tintercomd\nVmRSS:\t  90000 kB\nRssAnon:\t   20480 kB\nRssFile:\t 1 kB\n", 20, true},
	{"missing", "Name:\tintercomd\nVmRSS:\t  90000 kB\n", 0, false},
	{"no unit", "RssAnon:\t20480\n", 0, false},
	{"not a number", "RssAnon:\tlots kB\n", 0, false},
	{"empty", "", 0, false},
}

func TestParseRSSAnon(t *testing.T) {
	for _, c := range rssCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseRSSAnon(strings.NewReader(c.in))
			if (err == nil) != c.ok || got != c.want {
				t.Errorf("parseRSSAnon = %v, %v; want %v, ok %v", got, err, c.want, c.ok)
			}
		})
	}
}

func FuzzParseRSSAnon(f *testing.F) {
	for _, c := range rssCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		v, err := parseRSSAnon(strings.NewReader(in))
		if err != nil && v != 0 {
			t.Errorf("an error with a value %v", v)
		}
	})
}

var metricCases = []struct {
	name, in, metric string
	want             float64
	ok               bool
}{
	{"gauge", "# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 42\n", "go_goroutines", 42, true},
	{"labels summed", "intercomd_decisions_total{kind=\"pin\",reason=\"granted\",result=\"grant\"} 3\nintercomd_decisions_total{kind=\"qr\",reason=\"granted\",result=\"grant\"} 4\n", "intercomd_decisions_total", 7, true},
	{"prefix is not the metric", "go_goroutines_total 5\n", "go_goroutines", 0, false},
	{"timestamp", "go_goroutines 9 1700000000000\n", "go_goroutines", 9, true},
	{"absent", "other 1\n", "go_goroutines", 0, false},
	{"garbage value", "go_goroutines x\n", "go_goroutines", 0, false},
}

func TestSumMetric(t *testing.T) {
	for _, c := range metricCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := sumMetric(strings.NewReader(c.in), c.metric)
			if (err == nil) != c.ok || got != c.want {
				t.Errorf("sumMetric = %v, %v; want %v, ok %v", got, err, c.want, c.ok)
			}
		})
	}
}

func FuzzSumMetric(f *testing.F) {
	for _, c := range metricCases {
		f.Add(c.in, c.metric)
	}
	f.Fuzz(func(t *testing.T, in, metric string) {
		if metric == "" {
			return
		}
		sumMetric(strings.NewReader(in), metric)
	})
}

func TestSlope(t *testing.T) {
	var flat, rising []Sample
	for i := range 10 {
		at := time.Duration(i) * time.Minute
		flat = append(flat, Sample{At: at, RSSAnonMB: 30})
		rising = append(rising, Sample{At: at, RSSAnonMB: 30 + float64(i)}) // 1 MB a minute
	}
	if got := slope(flat, func(s Sample) float64 { return s.RSSAnonMB }); got != 0 {
		t.Errorf("flat slope = %v, want 0", got)
	}
	if got := slope(rising, func(s Sample) float64 { return s.RSSAnonMB }); math.Abs(got-60) > 1e-6 {
		t.Errorf("rising slope = %v MB/h, want 60", got)
	}
	if got := slope(rising[:1], func(s Sample) float64 { return s.RSSAnonMB }); got != 0 {
		t.Errorf("one sample: %v", got)
	}
}
