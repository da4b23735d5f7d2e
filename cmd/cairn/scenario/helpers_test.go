package scenario

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rec is the subset of an event the tests reason about.
type rec struct {
	Line      int       `json:"-"`
	TS        time.Time `json:"-"`
	Timestamp string    `json:"@timestamp"`
	Event     struct {
		Kind     string   `json:"kind"`
		Module   string   `json:"module"`
		Dataset  string   `json:"dataset"`
		Category []string `json:"category"`
		Type     []string `json:"type"`
	} `json:"event"`
	Host struct {
		Name string `json:"name"`
		ID   string `json:"id"`
		OS   struct {
			Type string `json:"type"`
		} `json:"os"`
	} `json:"host"`
	Process struct {
		PID        int      `json:"pid"`
		Name       string   `json:"name"`
		Executable string   `json:"executable"`
		Args       []string `json:"args"`
		Hash       struct {
			SHA256 string `json:"sha256"`
		} `json:"hash"`
		Parent struct {
			PID        int    `json:"pid"`
			Executable string `json:"executable"`
		} `json:"parent"`
	} `json:"process"`
	User struct {
		Name string `json:"name"`
		ID   string `json:"id"`
	} `json:"user"`
	Network struct {
		Transport string `json:"transport"`
		Direction string `json:"direction"`
		Protocol  string `json:"protocol"`
	} `json:"network"`
	Source struct {
		IP   string `json:"ip"`
		Port int    `json:"port"`
	} `json:"source"`
	Destination struct {
		IP     string `json:"ip"`
		Port   int    `json:"port"`
		Domain string `json:"domain"`
	} `json:"destination"`
	DNS struct {
		Type     string `json:"type"`
		Question struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"question"`
		ResponseCode string   `json:"response_code"`
		ResolvedIP   []string `json:"resolved_ip"`
	} `json:"dns"`
}

func (r *rec) isStart() bool { return len(r.Event.Type) == 1 && r.Event.Type[0] == "start" }
func (r *rec) isConn() bool  { return len(r.Event.Type) == 2 && r.Event.Type[0] == "connection" }
func (r *rec) isDNS() bool   { return r.Network.Protocol == "dns" }

// domains named by the event, whether asked or connected to.
func (r *rec) domains() []string {
	var out []string
	if r.isDNS() {
		out = append(out, r.DNS.Question.Name)
	}
	if r.isConn() && r.Destination.Domain != "" {
		out = append(out, r.Destination.Domain)
	}
	return out
}

func generate(t testing.TB, cfg Config) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Generate(cfg, &buf)
	require.NoError(t, err)
	return buf.Bytes(), st
}

func parse(t testing.TB, data []byte) []rec {
	t.Helper()
	var out []rec
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r rec
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "line %d", len(out)+1)
		ts, err := time.Parse(time.RFC3339Nano, r.Timestamp)
		require.NoError(t, err, "line %d", len(out)+1)
		r.TS = ts
		r.Line = len(out) + 1
		out = append(out, r)
	}
	require.NoError(t, sc.Err())
	return out
}

var defaultOnce struct {
	sync.Once
	data  []byte
	st    Stats
	recs  []rec
	fatal error
}

// defaultScenario generates and parses Default() once for the whole package.
func defaultScenario(t *testing.T) ([]byte, Stats, []rec) {
	t.Helper()
	defaultOnce.Do(func() {
		var buf bytes.Buffer
		defaultOnce.st, defaultOnce.fatal = Generate(Default(), &buf)
		defaultOnce.data = buf.Bytes()
	})
	require.NoError(t, defaultOnce.fatal)
	if defaultOnce.recs == nil {
		defaultOnce.recs = parse(t, defaultOnce.data)
	}
	return defaultOnce.data, defaultOnce.st, defaultOnce.recs
}

// Ranges a first-seen stage must never see as "external": private, loopback,
// link-local, CGNAT, multicast, benchmarking, documentation and the rest of
// the IANA special-purpose registry that could plausibly be hit by accident.
var specialPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"255.255.255.255/32",
		"::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32", "64:ff9b::/96",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

func isSpecial(a netip.Addr) bool {
	for _, p := range specialPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// isExternal mirrors what a first-seen stage would count as an external IP.
func isExternal(t testing.TB, ip string) bool {
	t.Helper()
	a, err := netip.ParseAddr(ip)
	require.NoError(t, err, ip)
	return !isSpecial(a)
}
