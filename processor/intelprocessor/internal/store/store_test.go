package store

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

const (
	sha256A = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
	sha256B = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	sha1A   = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	md5A    = "d41d8cd98f00b204e9800998ecf8427e"
)

func ind(t indicator.Type, v, provider string, verdict indicator.Verdict) indicator.Indicator {
	return indicator.Indicator{Type: t, Value: v, Provider: provider, Verdict: verdict, Confidence: -1}
}

func build(t *testing.T, inds ...indicator.Indicator) *Store {
	t.Helper()
	b := NewBuilder()
	for _, i := range inds {
		require.NoError(t, b.Add(i), "%s %q", i.Type, i.Value)
	}
	require.Equal(t, len(inds), b.Len())
	return b.Build()
}

// providers lists the providers of a lookup's entries, in order.
func providers(s *Store, es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, s.Meta(e).Provider)
	}
	return out
}

func TestHashTypes(t *testing.T) {
	s := build(t,
		ind(indicator.SHA256, sha256A, "mb", indicator.Malicious),
		ind(indicator.SHA1, sha1A, "sha1feed", indicator.Suspicious),
		ind(indicator.MD5, md5A, "md5feed", indicator.Malicious),
	)
	assert.Equal(t, 3, s.Len())
	assert.Equal(t, 1, s.Count(indicator.SHA256))
	assert.Equal(t, 1, s.Count(indicator.SHA1))
	assert.Equal(t, 1, s.Count(indicator.MD5))
	assert.Equal(t, 0, s.Count(indicator.IP))
	assert.Equal(t, 0, s.Count(indicator.Type(200)))

	for _, c := range []struct {
		typ  indicator.Type
		v    string
		prov string
	}{
		{indicator.SHA256, sha256A, "mb"},
		{indicator.SHA1, sha1A, "sha1feed"},
		{indicator.MD5, md5A, "md5feed"},
	} {
		for _, q := range []string{c.v, strings.ToUpper(c.v), mixCase(c.v)} {
			es := s.LookupHash(c.typ, q)
			assert.Equal(t, []string{c.prov}, providers(s, es), "%s %s", c.typ, q)
		}
	}
	assert.Equal(t, indicator.Suspicious, s.LookupHash(indicator.SHA1, sha1A)[0].Verdict())

	// Misses: another hash, the right digits under another type, bad
	// lengths, non-hex, spaces, non-hash types.
	for _, c := range []struct {
		typ indicator.Type
		v   string
	}{
		{indicator.SHA256, sha256B},
		{indicator.SHA256, sha256A[:63] + "e"},
		{indicator.SHA256, "e" + sha256A[1:]},
		{indicator.MD5, sha1A[:32]},
		{indicator.SHA256, sha256A[:62]},
		{indicator.SHA256, sha256A + "00"},
		{indicator.SHA256, sha256A[:63] + "g"},
		{indicator.SHA256, "g" + sha256A[1:]},
		{indicator.SHA256, " " + sha256A[1:]},
		{indicator.SHA1, sha1A[:36] + "07z9"},
		{indicator.SHA256, ""},
		{indicator.IP, sha256A},
		{indicator.Domain, sha256A},
		{indicator.Unknown, sha256A},
	} {
		assert.Nil(t, s.LookupHash(c.typ, c.v), "%s %q", c.typ, c.v)
	}
}

func mixCase(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); i += 2 {
		if 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

func TestAddRejects(t *testing.T) {
	b := NewBuilder()
	for _, c := range []indicator.Indicator{
		ind(indicator.SHA256, strings.ToUpper(sha256A), "p", indicator.Malicious),
		ind(indicator.SHA256, sha256A[:63], "p", indicator.Malicious),
		ind(indicator.SHA256, sha256A[:63]+"x", "p", indicator.Malicious),
		ind(indicator.SHA1, sha256A, "p", indicator.Malicious),
		ind(indicator.MD5, " "+md5A[1:], "p", indicator.Malicious),
		ind(indicator.IP, "::ffff:1.2.3.4", "p", indicator.Malicious),
		ind(indicator.IP, "2001:DB8::1", "p", indicator.Malicious),
		ind(indicator.IP, "2001:db8:0::1", "p", indicator.Malicious),
		ind(indicator.IP, "fe80::1%eth0", "p", indicator.Malicious),
		ind(indicator.IP, "[::1]", "p", indicator.Malicious),
		ind(indicator.IP, "1.2.3", "p", indicator.Malicious),
		ind(indicator.Domain, "Evil.example", "p", indicator.Malicious),
		ind(indicator.Domain, "evil.example.", "p", indicator.Malicious),
		ind(indicator.Domain, " evil.example", "p", indicator.Malicious),
		ind(indicator.Domain, "", "p", indicator.Malicious),
		ind(indicator.Domain, "a/b", "p", indicator.Malicious),
		ind(indicator.Unknown, "x", "p", indicator.Malicious),
		ind(indicator.SHA256, sha256A, "p", indicator.Verdict(9)),
		{Type: indicator.MD5, Value: md5A, Confidence: 101},
		{Type: indicator.MD5, Value: md5A, Confidence: -2},
		{Type: indicator.IP, Value: "1.2.3.4", Port: 65536},
		{Type: indicator.IP, Value: "1.2.3.4", Port: -1},
	} {
		assert.Error(t, b.Add(c), "%s %q", c.Type, c.Value)
	}
	assert.Equal(t, 0, b.Len())
	assert.Equal(t, 0, b.Build().Len())
}

func TestIPForms(t *testing.T) {
	s := build(t,
		ind(indicator.IP, "1.2.3.4", "v4", indicator.Malicious),
		ind(indicator.IP, "2001:db8::1", "v6", indicator.Malicious),
		ind(indicator.IP, "fe80::1", "ll", indicator.Suspicious),
		ind(indicator.IP, "::", "any", indicator.Suspicious),
		ind(indicator.IP, "0.0.0.0", "any4", indicator.Suspicious),
	)
	for q, want := range map[string]string{
		"1.2.3.4":                 "v4",
		"::ffff:1.2.3.4":          "v4",
		"::FFFF:1.2.3.4":          "v4",
		"::ffff:102:304":          "v4",
		"[1.2.3.4]":               "v4",
		"2001:db8::1":             "v6",
		"2001:DB8::1":             "v6",
		"2001:0db8:0:0:0:0:0:1":   "v6",
		"[2001:db8::1]":           "v6",
		"fe80::1%eth0":            "ll",
		"[fe80::1%25]":            "ll",
		"FE80:0::0001%3":          "ll",
		"::":                      "any",
		"0.0.0.0":                 "any4",
		"::ffff:0.0.0.0":          "any4",
		"1.2.3.5":                 "",
		"::1.2.3.4":               "", // IPv4-compatible, not mapped: a different address
		"2001:db8::2":             "",
		"fe80::2%eth0":            "",
		"not an ip":               "",
		"":                        "",
		"1.2.3.4:80":              "",
		"1.2.3.4%eth0":            "v4", // lenient: the zone is dropped unread
		"2001:db8::1%":            "v6",
		"[2001:db8::1":            "",
		"2001:db8::1]":            "",
		"[]":                      "",
		"1.2.3.04":                "",
		"0:0:0:0:0:ffff:1.2.3.4":  "v4",
		"0:0:0:0:0:ffff:102:0304": "v4",
	} {
		var wantP []string
		if want != "" {
			wantP = []string{want}
		}
		assert.Equal(t, wantP, providers(s, s.LookupIPString(q)), "%q", q)
		if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(q, "["), "]")); err == nil && (q[0] == '[') == (q[len(q)-1] == ']') {
			assert.Equal(t, wantP, providers(s, s.LookupIP(a)), "addr %q", q)
		}
	}
	assert.Nil(t, s.LookupIP(netip.Addr{}))
}

func TestDomainForms(t *testing.T) {
	s := build(t,
		ind(indicator.Domain, "evil.example", "dom", indicator.Malicious),
		ind(indicator.Domain, "bücher.example", "idn", indicator.Malicious),
		ind(indicator.Domain, "localhost", "single", indicator.Suspicious),
	)
	for q, want := range map[string]string{
		"evil.example":           "dom",
		"evil.example.":          "dom",
		"EVIL.Example":           "dom",
		"Evil.EXAMPLE.":          "dom",
		"bücher.example":         "idn",
		"BÜCHER.Example.":        "idn",
		"localhost":              "single",
		"LOCALHOST.":             "single",
		"www.evil.example":       "", // exact names only: no parent-domain match
		"example":                "",
		"vil.example":            "",
		"evil.example..":         "",
		" evil.example":          "",
		"":                       "",
		".":                      "",
		"evil.examplf":           "",
		"evil.example.com":       "",
		"bucher.example":         "",
		strings.Repeat("a", 300): "",
	} {
		var wantP []string
		if want != "" {
			wantP = []string{want}
		}
		assert.Equal(t, wantP, providers(s, s.LookupDomain(q)), "%q", q)
	}
}

func TestMultipleEntries(t *testing.T) {
	mb := ind(indicator.SHA256, sha256A, "MalwareBazaar", indicator.Malicious)
	mb.Name = "AgentTesla"
	tf := ind(indicator.SHA256, sha256A, "ThreatFox", indicator.Malicious)
	tf.Confidence = 75
	allow := ind(indicator.SHA256, sha256A, "in-house allow list", indicator.Benign)
	other := ind(indicator.SHA256, sha256B, "MalwareBazaar", indicator.Malicious)

	ip1 := ind(indicator.IP, "192.0.2.1", "ThreatFox", indicator.Malicious)
	ip1.Port = 443
	ip2 := ip1
	ip2.Port = 8080
	ip3 := ind(indicator.IP, "192.0.2.1", "blocklist", indicator.Malicious)

	d1 := ind(indicator.Domain, "evil.example", "urlhaus", indicator.Malicious)
	d2 := ind(indicator.Domain, "evil.example", "allow", indicator.Benign)

	s := build(t, mb, tf, allow, mb, other, mb, ip1, ip2, ip3, ip1, d1, d2, d2, d1)
	assert.Equal(t, 4+3+2, s.Len(), "identical entries are stored once")

	es := s.LookupHash(indicator.SHA256, sha256A)
	assert.ElementsMatch(t, []string{"MalwareBazaar", "ThreatFox", "in-house allow list"}, providers(s, es))
	verdicts := map[indicator.Verdict]int{}
	for _, e := range es {
		verdicts[e.Verdict()]++
		m := s.Meta(e)
		assert.Equal(t, e.Verdict(), m.Verdict)
		switch m.Provider {
		case "MalwareBazaar":
			assert.Equal(t, "AgentTesla", m.Name)
			assert.Equal(t, -1, m.Confidence)
		case "ThreatFox":
			assert.Equal(t, "", m.Name)
			assert.Equal(t, 75, m.Confidence)
		}
	}
	assert.Equal(t, map[indicator.Verdict]int{indicator.Malicious: 2, indicator.Benign: 1}, verdicts,
		"a Benign entry is returned beside the bad ones")
	assert.Equal(t, []string{"MalwareBazaar"}, providers(s, s.LookupHash(indicator.SHA256, sha256B)))

	ports := map[int]string{}
	for _, e := range s.LookupIPString("192.0.2.1") {
		m := s.Meta(e)
		ports[m.Port] = m.Provider
	}
	assert.Equal(t, map[int]string{443: "ThreatFox", 8080: "ThreatFox", 0: "blocklist"}, ports)

	var dv []indicator.Verdict
	for _, e := range s.LookupDomain("Evil.Example.") {
		dv = append(dv, e.Verdict())
	}
	assert.ElementsMatch(t, []indicator.Verdict{indicator.Malicious, indicator.Benign}, dv)
}

func TestMetaRoundTrip(t *testing.T) {
	cest := time.FixedZone("CEST", 2*3600)
	times := []time.Time{
		{},
		time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2024, 5, 1, 14, 0, 0, 0, cest),
		time.Date(2024, 5, 1, 12, 0, 0, 123_000_000, time.UTC), // sub-second
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),       // STIX "forever"
		time.Date(1995, 3, 4, 5, 6, 7, 0, time.UTC),            // before the inline epoch
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),            // first inline second
		time.Date(2068, 1, 19, 3, 14, 6, 0, time.UTC),          // last inline second
		time.Date(2068, 1, 19, 3, 14, 7, 0, time.UTC),          // first past it
		time.Unix(0, 0),
		time.Now(), // has a monotonic reading and a location
	}
	b := NewBuilder()
	for i, ts := range times {
		in := indicator.Indicator{
			Type: indicator.MD5, Value: strings.Repeat("0", 30) + string("0123456789abcdef"[i]) + "0",
			Verdict: indicator.Suspicious, Provider: "p", Name: "n", Confidence: i, Port: i,
			FirstSeen: ts, ValidFrom: ts, ValidUntil: times[(i+1)%len(times)],
		}
		require.NoError(t, b.Add(in))
	}
	s := b.Build()
	for i, ts := range times {
		v := strings.Repeat("0", 30) + string("0123456789abcdef"[i]) + "0"
		es := s.LookupHash(indicator.MD5, v)
		require.Len(t, es, 1)
		m := s.Meta(es[0])
		assert.True(t, m.FirstSeen.Equal(ts), "%d: %v != %v", i, m.FirstSeen, ts)
		assert.True(t, m.ValidFrom.Equal(ts), "%d", i)
		assert.True(t, m.ValidUntil.Equal(times[(i+1)%len(times)]), "%d", i)
		assert.Equal(t, ts.IsZero(), m.FirstSeen.IsZero(), "%d", i)
		assert.Equal(t, time.UTC, m.FirstSeen.Location())
		assert.Equal(t, i, m.Confidence)
		assert.Equal(t, i, m.Port)
		assert.Equal(t, "n", m.Name)
	}
	assert.Equal(t, time.Time{}, s.Meta(s.LookupHash(indicator.MD5, strings.Repeat("0", 32))[0]).FirstSeen)
}

func TestMetaValidAt(t *testing.T) {
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	in := ind(indicator.Domain, "evil.example", "stix", indicator.Malicious)
	in.ValidFrom, in.ValidUntil = from, until
	s := build(t, in)
	m := s.Meta(s.LookupDomain("evil.example")[0])
	for _, at := range []time.Time{from.Add(-time.Second), from, until.Add(-time.Second), until, {}} {
		assert.Equal(t, in.ValidAt(at), m.ValidAt(at), "%v", at)
	}
	open := Meta{}
	assert.True(t, open.ValidAt(time.Now()))
}

func TestEmptyStore(t *testing.T) {
	for name, s := range map[string]*Store{"zero": {}, "built": NewBuilder().Build(), "zero builder": new(Builder).Build()} {
		assert.Equal(t, 0, s.Len(), name)
		assert.Nil(t, s.LookupHash(indicator.SHA256, sha256A), name)
		assert.Nil(t, s.LookupHash(indicator.SHA256, ""), name)
		assert.Nil(t, s.LookupHash(indicator.MD5, ""), name)
		assert.Nil(t, s.LookupHash(indicator.SHA1, sha1A), name)
		assert.Nil(t, s.LookupHash(indicator.MD5, md5A), name)
		assert.Nil(t, s.LookupIP(netip.MustParseAddr("1.2.3.4")), name)
		assert.Nil(t, s.LookupIPString("::1"), name)
		assert.Nil(t, s.LookupDomain("evil.example"), name)
		assert.Nil(t, s.LookupDomain("EVIL.example"), name)
	}
	assert.Less(t, NewBuilder().Build().MemoryBytes(), 1024)
}

func TestBuildResetsBuilder(t *testing.T) {
	b := NewBuilder()
	require.NoError(t, b.Add(ind(indicator.MD5, md5A, "first", indicator.Malicious)))
	s1 := b.Build()
	assert.Equal(t, 0, b.Len())
	require.NoError(t, b.Add(ind(indicator.Domain, "evil.example", "second", indicator.Malicious)))
	s2 := b.Build()

	assert.Equal(t, 1, s1.Len())
	assert.NotNil(t, s1.LookupHash(indicator.MD5, md5A))
	assert.Nil(t, s1.LookupDomain("evil.example"))
	assert.Equal(t, 1, s2.Len())
	assert.Nil(t, s2.LookupHash(indicator.MD5, md5A))
	assert.Equal(t, []string{"second"}, providers(s2, s2.LookupDomain("evil.example")))
}

func TestResultCannotOverwriteStore(t *testing.T) {
	s := build(t,
		ind(indicator.MD5, md5A, "a", indicator.Malicious),
		ind(indicator.MD5, "ffffffffffffffffffffffffffffffff", "b", indicator.Benign),
	)
	es := s.LookupHash(indicator.MD5, md5A)
	_ = append(es, Entry{})
	assert.Equal(t, []string{"b"}, providers(s, s.LookupHash(indicator.MD5, "ffffffffffffffffffffffffffffffff")))
}

func TestLookupsDoNotAllocate(t *testing.T) {
	s := build(t,
		ind(indicator.SHA256, sha256A, "a", indicator.Malicious),
		ind(indicator.SHA1, sha1A, "a", indicator.Malicious),
		ind(indicator.IP, "2001:db8::1", "a", indicator.Malicious),
		ind(indicator.IP, "1.2.3.4", "a", indicator.Malicious),
		ind(indicator.Domain, "evil.example", "a", indicator.Malicious),
	)
	v4, v6z := netip.MustParseAddr("::ffff:1.2.3.4"), netip.MustParseAddr("2001:db8::1%eth0")
	upper := strings.ToUpper(sha256A)
	checks := map[string]func() []Entry{
		"hash hit":         func() []Entry { return s.LookupHash(indicator.SHA256, sha256A) },
		"hash upper":       func() []Entry { return s.LookupHash(indicator.SHA256, upper) },
		"hash miss":        func() []Entry { return s.LookupHash(indicator.SHA256, sha256B) },
		"ip mapped":        func() []Entry { return s.LookupIP(v4) },
		"ip zoned":         func() []Entry { return s.LookupIP(v6z) },
		"ip text zoned":    func() []Entry { return s.LookupIPString("2001:DB8::1%eth0") },
		"ip text mapped":   func() []Entry { return s.LookupIPString("::ffff:1.2.3.4") },
		"domain lower":     func() []Entry { return s.LookupDomain("evil.example") },
		"domain mixed dot": func() []Entry { return s.LookupDomain("Evil.Example.") },
		"domain miss":      func() []Entry { return s.LookupDomain("Good.Example") },
	}
	for name, f := range checks {
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = f() }), name)
	}
	e := s.LookupHash(indicator.SHA256, sha256A)[0]
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = s.Meta(e) }), "Meta")
}

// TestCraftedPrefixes feeds many hashes sharing a long prefix, which fills
// one bucket: lookups must stay correct (and take the binary search).
func TestCraftedPrefixes(t *testing.T) {
	b := NewBuilder()
	const n = 2000
	val := func(i int) string { return sha256A[:48] + hex16(uint64(i)*7919) }
	for i := range n {
		require.NoError(t, b.Add(ind(indicator.SHA256, val(i), "crafted", indicator.Malicious)))
	}
	require.NoError(t, b.Add(ind(indicator.SHA256, sha256B, "real", indicator.Malicious)))
	s := b.Build()
	for i := range n {
		require.Len(t, s.LookupHash(indicator.SHA256, strings.ToUpper(val(i))), 1, i)
		assert.Nil(t, s.LookupHash(indicator.SHA256, sha256A[:48]+hex16(uint64(i)*7919+1)))
	}
	assert.Nil(t, s.LookupHash(indicator.SHA256, sha256A[:48]+"zzzzzzzzzzzzzzzz"))
	assert.Len(t, s.LookupHash(indicator.SHA256, sha256B), 1)
	q := strings.ToUpper(val(7))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = s.LookupHash(indicator.SHA256, q) }))
}

func hex16(x uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[x&15]
		x >>= 4
	}
	return string(b[:])
}

func TestConcurrentReaders(t *testing.T) {
	inds := randomIndicators(newRand(7), 5000)
	b := NewBuilder()
	for _, i := range inds {
		require.NoError(t, b.Add(i))
	}
	s := b.Build()
	want := make([]int, len(inds))
	for i, in := range inds {
		want[i] = len(lookupNormalised(s, in.Type, in.Value))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for round := range 3 {
				for i := g + round; i < len(inds); i += 3 {
					in := inds[i]
					es := lookupNormalised(s, in.Type, in.Value)
					if len(es) != want[i] {
						t.Errorf("%s %q: %d entries, want %d", in.Type, in.Value, len(es), want[i])
						return
					}
					for _, e := range es {
						_ = s.Meta(e)
					}
				}
			}
		})
	}
	wg.Wait()
}

func lookupNormalised(s *Store, t indicator.Type, v string) []Entry {
	switch t {
	case indicator.IP:
		return s.LookupIPString(v)
	case indicator.Domain:
		return s.LookupDomain(v)
	}
	return s.LookupHash(t, v)
}

// TestRowsAcrossBlocks checks rows past the builder's first blocks (see
// keyRows): every key keeps its own entry.
func TestRowsAcrossBlocks(t *testing.T) {
	n := 2*blockRows + blockRows/2
	b := NewBuilder()
	ip := func(i int) string { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String() }
	for i := range n {
		prov := fmt.Sprintf("p%d", i%7)
		require.NoError(t, b.Add(indicator.Indicator{Type: indicator.SHA256, Value: sha256Of(uint64(i)), Verdict: indicator.Malicious, Provider: prov, Confidence: -1}))
		require.NoError(t, b.Add(indicator.Indicator{Type: indicator.IP, Value: ip(i), Verdict: indicator.Suspicious, Provider: prov, Confidence: -1}))
	}
	s := b.Build()
	require.Equal(t, n, s.Count(indicator.SHA256))
	require.Equal(t, n, s.Count(indicator.IP))
	for i := range n {
		prov := fmt.Sprintf("p%d", i%7)
		got := s.LookupHash(indicator.SHA256, sha256Of(uint64(i)))
		require.Len(t, got, 1, i)
		require.Equal(t, prov, s.Meta(got[0]).Provider, i)
		got = s.LookupIPString(ip(i))
		require.Len(t, got, 1, i)
		require.Equal(t, prov, s.Meta(got[0]).Provider, i)
		require.Equal(t, indicator.Suspicious, got[0].Verdict())
	}
	require.Empty(t, s.LookupHash(indicator.SHA256, sha256Of(uint64(n))))
}
