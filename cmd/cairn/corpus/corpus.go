// Package corpus is Cairn's labeled detection test corpus: scenarios of a
// 24-host fleet (three days of ordinary activity, so that baselines exist,
// plus an attack or a noisy-but-benign job on day 3), each with the labels
// that say which hosts were attacked, from when, and which must stay quiet.
// `cairn eval` runs them through a collector configuration's processors.
//
// The committed corpus lives in testdata/eval; regenerate it with:
//
//go:generate go test . -run TestGolden -update
package corpus

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// What a scenario expects.
const (
	// ExpectDetect: every attacked host gets exactly one high (or
	// critical) alert, no other host any alert.
	ExpectDetect = "detect"
	// ExpectQuiet: no alert on any host.
	ExpectQuiet = "quiet"
)

// File names inside a scenario directory.
const (
	LabelsFile = "labels.yaml"
	// EventsFile is the default events file; events.ndjson (plain) is
	// accepted as well for hand-made scenarios.
	EventsFile = "events.ndjson.gz"
)

// Labels is a scenario's labels.yaml.
type Labels struct {
	Name        string `yaml:"name"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	// Expect is ExpectDetect or ExpectQuiet.
	Expect string `yaml:"expect"`
	// Events is the events file, relative to the scenario directory.
	Events string `yaml:"events"`
	// Period is the event time of the first and last line.
	Period   Period     `yaml:"period"`
	Attacked []Attacked `yaml:"attacked,omitempty"`
	// Quiet lists every host that must raise no alert.
	Quiet []string `yaml:"quiet"`
	// Unjudged hosts are in the events but neither attacked nor quiet
	// (e.g. the attacker's own host in a poisoning scenario): their alerts
	// are shown, not counted.
	Unjudged []Unjudged `yaml:"unjudged,omitempty"`
	// Sources credits real captures the scenario's events come from.
	Sources []string `yaml:"sources,omitempty"`
}

// Period is a span of event time, RFC 3339.
type Period struct {
	First string `yaml:"first"`
	Last  string `yaml:"last"`
}

// Attacked is one attacked host and the first event of the attack on it.
type Attacked struct {
	Host           string `yaml:"host"`
	FirstMalicious Marker `yaml:"first_malicious"`
}

// Marker names one event of a host by its event time (@timestamp, RFC 3339
// with milliseconds) and says what it is.
type Marker struct {
	Time  string `yaml:"time"`
	Event string `yaml:"event"`
}

// Unjudged is a host whose alerts neither pass nor fail the scenario.
type Unjudged struct {
	Host string `yaml:"host"`
	Why  string `yaml:"why"`
}

// Scenario is one loaded scenario directory.
type Scenario struct {
	Dir    string
	Labels Labels
	// FirstMalicious holds the parsed times of Labels.Attacked, by host.
	FirstMalicious map[string]time.Time
}

// Name is the scenario's name (its directory's name).
func (s *Scenario) Name() string { return s.Labels.Name }

// EventsPath is the events file.
func (s *Scenario) EventsPath() string { return filepath.Join(s.Dir, s.Labels.Events) }

// Hosts returns every host the labels name: attacked, quiet and unjudged.
func (s *Scenario) Hosts() []string {
	var out []string
	for _, a := range s.Labels.Attacked {
		out = append(out, a.Host)
	}
	out = append(out, s.Labels.Quiet...)
	for _, u := range s.Labels.Unjudged {
		out = append(out, u.Host)
	}
	sort.Strings(out)
	return out
}

// IsUnjudged reports whether host is listed as unjudged.
func (s *Scenario) IsUnjudged(host string) bool {
	return slices.ContainsFunc(s.Labels.Unjudged, func(u Unjudged) bool { return u.Host == host })
}

// OpenEvents opens the events file, decompressing .gz files.
func (s *Scenario) OpenEvents() (io.ReadCloser, error) {
	return openEvents(s.EventsPath())
}

func openEvents(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, nil
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &gzipFile{Reader: zr, f: f}, nil
}

type gzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g *gzipFile) Close() error {
	return errors.Join(g.Reader.Close(), g.f.Close())
}

// Load reads every scenario of a corpus directory: each subdirectory with a
// labels.yaml, in name order. Subdirectories without one (such as sources/,
// the real captures) are skipped, unless they hold an events file, which
// would be a scenario whose labels are missing.
func Load(dir string) ([]*Scenario, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []*Scenario
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(sub, LabelsFile)); errors.Is(err, os.ErrNotExist) {
			for _, ev := range []string{EventsFile, "events.ndjson"} {
				if _, err := os.Stat(filepath.Join(sub, ev)); err == nil {
					errs = append(errs, fmt.Errorf("%s: %s without %s", sub, ev, LabelsFile))
				}
			}
			continue
		}
		s, err := LoadScenario(sub)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no scenario (a subdirectory with %s)", dir, LabelsFile)
	}
	return out, nil
}

// LoadScenario reads and checks one scenario directory's labels.
func LoadScenario(dir string) (*Scenario, error) {
	b, err := os.ReadFile(filepath.Join(dir, LabelsFile))
	if err != nil {
		return nil, err
	}
	var l Labels
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, LabelsFile), err)
	}
	s := &Scenario{Dir: dir, Labels: l, FirstMalicious: map[string]time.Time{}}
	if err := s.check(filepath.Base(dir)); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, LabelsFile), err)
	}
	if _, err := os.Stat(s.EventsPath()); err != nil {
		return nil, fmt.Errorf("%s: events: %w", dir, err)
	}
	return s, nil
}

// ParseTime reads a label's time: RFC 3339, as @timestamp is written.
func ParseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

func (s *Scenario) check(dirName string) error {
	l := &s.Labels
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if l.Name != dirName {
		bad("name %q is not the directory's name %q", l.Name, dirName)
	}
	if l.Events == "" || filepath.IsAbs(l.Events) || strings.Contains(filepath.ToSlash(l.Events), "/") {
		bad("events must name a file in the scenario directory, got %q", l.Events)
	}
	switch l.Expect {
	case ExpectDetect:
		if len(l.Attacked) == 0 {
			bad("expect: %s needs at least one attacked host", ExpectDetect)
		}
	case ExpectQuiet:
		if len(l.Attacked) > 0 {
			bad("expect: %s, but %d attacked hosts are listed", ExpectQuiet, len(l.Attacked))
		}
	default:
		bad("expect must be %q or %q, got %q", ExpectDetect, ExpectQuiet, l.Expect)
	}
	seen := map[string]string{}
	name := func(host, list string) {
		switch {
		case host == "":
			bad("%s: empty host name", list)
		case seen[host] != "":
			bad("host %s is listed as %s and as %s", host, seen[host], list)
		default:
			seen[host] = list
		}
	}
	for _, a := range l.Attacked {
		name(a.Host, "attacked")
		t, err := ParseTime(a.FirstMalicious.Time)
		if err != nil {
			bad("attacked %s: first_malicious.time: %v", a.Host, err)
			continue
		}
		s.FirstMalicious[a.Host] = t
	}
	for _, q := range l.Quiet {
		name(q, "quiet")
	}
	for _, u := range l.Unjudged {
		name(u.Host, "unjudged")
		if u.Why == "" {
			bad("unjudged %s: why is required", u.Host)
		}
	}
	if len(l.Quiet) == 0 {
		bad("quiet lists no host: every scenario has hosts that must stay quiet")
	}
	for _, p := range []string{l.Period.First, l.Period.Last} {
		if _, err := ParseTime(p); err != nil {
			bad("period: %v", err)
		}
	}
	return errors.Join(errs...)
}
