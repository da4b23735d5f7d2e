package corpus

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Generated is one scenario as written to the corpus.
type Generated struct {
	Name   string
	Labels Labels
	// LabelsYAML is labels.yaml; Events the NDJSON events, uncompressed.
	LabelsYAML []byte
	Events     []byte
	// events keeps the generated events for the tests (tags included).
	events []*event
}

const labelsHeader = `# Labels of a cairn eval scenario, generated with its events by
# cmd/cairn/corpus: edit the generator, then run
#   go test ./cmd/cairn/corpus -run TestGolden -update
`

// Names lists the scenarios the generator makes, in order.
func Names() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.name
	}
	return out
}

// Generate makes every scenario. testdata is the repository's testdata
// directory, where the real captures some scenarios convert are read from.
// The output is a pure function of the code and those files.
func Generate(testdata string) ([]*Generated, error) {
	var out []*Generated
	for _, s := range specs {
		gs, err := generate(s, testdata)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.name, err)
		}
		out = append(out, gs)
	}
	return out, nil
}

func generate(s spec, testdata string) (*Generated, error) {
	g := newGen()
	if err := s.build(g, testdata); err != nil {
		return nil, err
	}
	events := g.run()
	var buf bytes.Buffer
	for _, e := range events {
		if err := e.encode(&buf); err != nil {
			return nil, err
		}
	}
	l, err := labelsOf(s, g, events)
	if err != nil {
		return nil, err
	}
	var y bytes.Buffer
	y.WriteString(labelsHeader)
	enc := yaml.NewEncoder(&y)
	enc.SetIndent(2)
	if err := enc.Encode(l); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return &Generated{Name: s.name, Labels: l, LabelsYAML: y.Bytes(), Events: buf.Bytes(), events: events}, nil
}

// labelsOf derives the labels from what was generated: the attacked hosts
// are those with events tagged "attack", each from its first such event.
func labelsOf(s spec, g *gen, events []*event) (Labels, error) {
	l := Labels{
		Name: s.name, Title: s.title, Description: strings.TrimSpace(s.description) + "\n",
		Expect: s.expect, Events: EventsFile, Unjudged: s.unjudged, Sources: s.sources,
	}
	if len(events) == 0 {
		return l, fmt.Errorf("no events")
	}
	l.Period = Period{First: formatTS(events[0].stamp), Last: formatTS(events[len(events)-1].stamp)}
	first := map[*host]*event{}
	var order []*host
	for _, e := range events {
		if e.tag != "attack" || first[e.host] != nil {
			continue
		}
		first[e.host] = e
		order = append(order, e.host)
	}
	for _, h := range order {
		e := first[h]
		l.Attacked = append(l.Attacked, Attacked{Host: h.name, FirstMalicious: Marker{Time: formatTS(e.stamp), Event: describe(e)}})
	}
	if (s.expect == ExpectDetect) != (len(order) > 0) {
		return l, fmt.Errorf("expect %s with %d attacked hosts", s.expect, len(order))
	}
	for _, h := range g.hosts {
		if first[h] == nil && !slices.ContainsFunc(s.unjudged, func(u Unjudged) bool { return u.Host == h.name }) {
			l.Quiet = append(l.Quiet, h.name)
		}
	}
	slices.Sort(l.Quiet)
	return l, nil
}

// describe says what an event is, for the labels.
func describe(e *event) string {
	switch e.kind {
	case evStart:
		return fmt.Sprintf("process start %s as %s: %s", e.exe, e.usr.name, strings.Join(e.args, " "))
	case evConn:
		return fmt.Sprintf("connection of %s to %s:%d", e.exe, e.dst, e.dport)
	default:
		return fmt.Sprintf("DNS answer %s -> %s", e.qname, strings.Join(e.ips, ", "))
	}
}

// gzipBytes compresses deterministically (no name, no modification time).
func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write writes the scenarios into dir, one directory each. An events file
// whose content is already what was generated is left alone, so that
// rewriting an unchanged corpus changes no file.
func Write(dir string, gens []*Generated) error {
	for _, gs := range gens {
		sub := filepath.Join(dir, gs.Name)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(sub, LabelsFile), gs.LabelsYAML, 0o644); err != nil {
			return err
		}
		path := filepath.Join(sub, EventsFile)
		if cur, err := readEvents(path); err == nil && bytes.Equal(cur, gs.Events) {
			continue
		}
		z, err := gzipBytes(gs.Events)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, z, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readEvents returns the uncompressed content of an events file.
func readEvents(path string) ([]byte, error) {
	rc, err := openEvents(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(rc)
	return buf.Bytes(), err
}
