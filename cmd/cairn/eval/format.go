package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints one row per scenario, then why each failing scenario
// failed, then the totals.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tEXPECT\tHIGH/ATTACKED\tTIME TO ALERT\tIN BATCH\tQUIET-HOST ALERTS\tRESULT\tSIGNALS OF THE HIGH ALERTS")
	for _, s := range r.Scenarios {
		result := "PASS"
		if !s.Pass {
			result = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Expect, s.detectedColumn(), s.latencyColumn(),
			s.inBatchColumn(), quietColumn(s.QuietAlerts), result, s.signalsColumn())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	first := true
	for _, s := range r.Scenarios {
		if s.Pass {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nwhy:")
			first = false
		}
		for _, f := range s.Failures {
			fmt.Fprintf(w, "  %s: %s\n", s.Name, f)
		}
		for _, g := range groupAlerts(s.QuietAlerts) {
			fmt.Fprintf(w, "  %s:   %d x %s %q, score %g (%s): %s\n", s.Name, g.n, g.a.Severity, g.a.Rule, g.a.Score,
				strings.Join(g.hosts, ", "), signalList(g.a.Signals, true))
		}
	}
	_, err := fmt.Fprintf(w, "\n%d scenarios: %d passed, %d failed (%d events in %s)\n", len(r.Scenarios), r.Passed, r.Failed,
		r.Events, r.Elapsed.Round(10*time.Millisecond))
	return err
}

// WriteJSON writes the whole report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// withHigh returns the attacked hosts that have a high alert.
func (s *Result) withHigh() []*HostResult {
	var out []*HostResult
	for _, h := range s.Attacked {
		if len(h.High) > 0 {
			out = append(out, h)
		}
	}
	return out
}

func (s *Result) detectedColumn() string {
	if s.Expect != "detect" {
		return "-"
	}
	return fmt.Sprintf("%d/%d", len(s.withHigh()), len(s.Attacked))
}

// latencyColumn: per attacked host with a high alert, the event time from
// its first malicious event to the alert.
func (s *Result) latencyColumn() string {
	var parts []string
	for _, h := range s.withHigh() {
		parts = append(parts, duration(h.High[0].Fired.Sub(h.FirstMalicious)))
	}
	return orDash(strings.Join(parts, " "))
}

func (s *Result) inBatchColumn() string {
	var parts []string
	for _, h := range s.withHigh() {
		if h.High[0].InBatch {
			parts = append(parts, "yes")
		} else {
			parts = append(parts, "no")
		}
	}
	return orDash(strings.Join(parts, " "))
}

func (s *Result) signalsColumn() string {
	var parts []string
	hosts := s.withHigh()
	for _, h := range hosts {
		sig := signalList(h.High[0].Signals, false)
		if len(hosts) > 1 {
			sig = h.Host + ": " + sig
		}
		parts = append(parts, sig)
	}
	return orDash(strings.Join(parts, " | "))
}

func quietColumn(as []*Alert) string {
	if len(as) == 0 {
		return "0"
	}
	rules := map[string]int{}
	for _, a := range as {
		rules[a.Rule]++
	}
	names := make([]string, 0, len(rules))
	for n, c := range rules {
		if c > 1 {
			n = fmt.Sprintf("%s x%d", n, c)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Sprintf("%d (%s)", len(as), strings.Join(names, ", "))
}

func signalList(sigs []Signal, weights bool) string {
	var parts []string
	for _, s := range sigs {
		if weights {
			parts = append(parts, fmt.Sprintf("%s +%g", s.Name, s.Weight))
		} else {
			parts = append(parts, s.Name)
		}
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// duration is short: tenths of a second under a minute, else seconds.
func duration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	if d < time.Minute {
		return fmt.Sprintf("%s%.1fs", sign, d.Seconds())
	}
	return sign + d.Round(time.Second).String()
}

// alertGroup is alerts that read the same (rule, severity, score, signals),
// shown as one line: a noisy job raises the same alert again and again.
type alertGroup struct {
	a     *Alert
	n     int
	hosts []string
}

func groupAlerts(as []*Alert) []*alertGroup {
	var out []*alertGroup
	index := map[string]*alertGroup{}
	for _, a := range as {
		key := fmt.Sprintf("%s|%s|%g|%s", a.Rule, a.Severity, a.Score, signalList(a.Signals, true))
		g := index[key]
		if g == nil {
			g = &alertGroup{a: a}
			index[key] = g
			out = append(out, g)
		}
		g.n++
		if !slices.Contains(g.hosts, a.Host) {
			g.hosts = append(g.hosts, a.Host)
		}
	}
	for _, g := range out {
		sort.Strings(g.hosts)
	}
	return out
}
