package store

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x5eed)) }

// valuePools makes candidate values per type; an indicator set draws from
// them, so values repeat (several entries per value) and some candidates
// are never added (misses).
func valuePools(r *rand.Rand, per int) map[indicator.Type][]string {
	pools := map[indicator.Type][]string{}
	crafted := r.Uint64()
	for _, t := range []indicator.Type{indicator.SHA256, indicator.SHA1, indicator.MD5} {
		k := hashSizes[hashSlot(t)]
		for range per {
			b := make([]byte, k)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			switch r.IntN(10) {
			case 0: // same first 8 bytes as other crafted values
				for i := range 8 {
					b[i] = byte(crafted >> (8 * i))
				}
			case 1: // same first byte: neighbouring buckets
				b[0] = byte(crafted)
			}
			pools[t] = append(pools[t], fmt.Sprintf("%x", b))
		}
	}
	for range per {
		var a netip.Addr
		switch r.IntN(3) {
		case 0:
			a = netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(4)), byte(r.Uint32())})
		case 1:
			a = netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
		default:
			var b [16]byte
			b[0], b[1], b[15] = 0x20, 0x01, byte(r.Uint32())
			if r.IntN(2) == 0 {
				for i := 2; i < 15; i++ {
					b[i] = byte(r.Uint32())
				}
			}
			a = netip.AddrFrom16(b)
		}
		pools[indicator.IP] = append(pools[indicator.IP], a.String())
	}
	labels := []string{"a", "evil", "c2", "update", "cdn", "xn--80ak6aa92e", "bücher", "login-secure", "www"}
	tlds := []string{"com", "net", "example", "ru", "io"}
	for range per {
		var parts []string
		for range 1 + r.IntN(3) {
			l := labels[r.IntN(len(labels))]
			if r.IntN(2) == 0 {
				l += fmt.Sprint(r.IntN(1000))
			}
			parts = append(parts, l)
		}
		parts = append(parts, tlds[r.IntN(len(tlds))])
		pools[indicator.Domain] = append(pools[indicator.Domain], strings.Join(parts, "."))
	}
	return pools
}

var modelTimes = []time.Time{
	{},
	time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC),
	time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2024, 1, 1, 0, 0, 0, 5, time.UTC),
	time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
	time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC),
}

func randomIndicators(r *rand.Rand, n int) []indicator.Indicator {
	pools := valuePools(r, max(1, n/8))
	types := []indicator.Type{indicator.SHA256, indicator.SHA1, indicator.MD5, indicator.IP, indicator.Domain}
	providers := []string{"MalwareBazaar", "ThreatFox", "URLhaus", "in-house", "STIX"}
	names := []string{"", "AgentTesla", "Emotet", "QakBot", "Cobalt Strike", "x"}
	var out []indicator.Indicator
	for len(out) < n {
		if len(out) > 0 && r.IntN(10) == 0 {
			out = append(out, out[r.IntN(len(out))]) // identical re-listing
			continue
		}
		t := types[r.IntN(len(types))]
		in := indicator.Indicator{
			Type:       t,
			Value:      pools[t][r.IntN(len(pools[t]))],
			Verdict:    indicator.Verdict(r.IntN(4)),
			Provider:   providers[r.IntN(len(providers))],
			Name:       names[r.IntN(len(names))],
			Confidence: r.IntN(102) - 1,
			FirstSeen:  modelTimes[r.IntN(len(modelTimes))],
			ValidFrom:  modelTimes[r.IntN(len(modelTimes))],
			ValidUntil: modelTimes[r.IntN(len(modelTimes))],
		}
		if r.IntN(5) == 0 {
			// Distinct times, as MalwareBazaar's per-sample first-seen.
			in.FirstSeen = time.Unix(1.6e9+r.Int64N(2e8), 0)
		}
		if t == indicator.IP && r.IntN(3) == 0 {
			in.Port = r.IntN(65536)
		}
		out = append(out, in)
	}
	return out
}

type refKey struct {
	t indicator.Type
	v string
}

type refMeta struct {
	verdict          indicator.Verdict
	provider, name   string
	confidence, port int
	first, from, to  string
}

func timeKey(t time.Time) string {
	if t.IsZero() {
		return "zero"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func refOf(in indicator.Indicator) refMeta {
	return refMeta{in.Verdict, in.Provider, in.Name, in.Confidence, in.Port, timeKey(in.FirstSeen), timeKey(in.ValidFrom), timeKey(in.ValidUntil)}
}

func refOfMeta(m Meta) refMeta {
	return refMeta{m.Verdict, m.Provider, m.Name, m.Confidence, m.Port, timeKey(m.FirstSeen), timeKey(m.ValidFrom), timeKey(m.ValidUntil)}
}

// queryForms are raw event forms of a normalised value that must find it.
func queryForms(r *rand.Rand, t indicator.Type, v string) []string {
	switch t {
	case indicator.IP:
		a := netip.MustParseAddr(v)
		forms := []string{v, "[" + v + "]", a.StringExpanded()}
		if a.Is4() {
			m := netip.AddrFrom16(a.As16())
			forms = append(forms, m.String(), strings.ToUpper(m.StringExpanded()))
		} else {
			forms = append(forms, strings.ToUpper(v), v+"%eth"+fmt.Sprint(r.IntN(3)))
		}
		return forms
	case indicator.Domain:
		return []string{v, v + ".", strings.ToUpper(v), randomCase(r, v) + "."}
	}
	return []string{v, strings.ToUpper(v), randomCase(r, v)}
}

func randomCase(r *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' && r.IntN(2) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestModel(t *testing.T) {
	for _, n := range []int{1, 2, 3, 17, 1000, 20000} {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("n=%d/seed=%d", n, seed), func(t *testing.T) {
				checkModel(t, newRand(seed*1000+uint64(n)), n)
			})
		}
	}
}

func checkModel(t *testing.T, r *rand.Rand, n int) {
	inds := randomIndicators(r, n)
	ref := map[refKey]map[refMeta]bool{}
	b := NewBuilder()
	for _, in := range inds {
		require.NoError(t, b.Add(in))
		k := refKey{in.Type, in.Value}
		if ref[k] == nil {
			ref[k] = map[refMeta]bool{}
		}
		ref[k][refOf(in)] = true
	}
	require.Equal(t, len(inds), b.Len())
	s := b.Build()

	total, perType := 0, map[indicator.Type]int{}
	for k, ms := range ref {
		total += len(ms)
		perType[k.t] += len(ms)
	}
	require.Equal(t, total, s.Len())
	for ty, c := range perType {
		require.Equal(t, c, s.Count(ty), ty)
	}

	// Every candidate value, added or not, in every raw form.
	pools := valuePools(newRand(r.Uint64()), 50)
	for _, in := range inds {
		pools[in.Type] = append(pools[in.Type], in.Value)
	}
	for ty, vs := range pools {
		for _, v := range vs {
			want := ref[refKey{ty, v}]
			for _, q := range queryForms(r, ty, v) {
				got := lookupNormalised(s, ty, q)
				require.Len(t, got, len(want), "%s %q", ty, q)
				seen := map[refMeta]bool{}
				for _, e := range got {
					m := s.Meta(e)
					require.Equal(t, m.Verdict, e.Verdict())
					rm := refOfMeta(m)
					require.True(t, want[rm], "%s %q: unexpected %+v", ty, q, rm)
					require.False(t, seen[rm], "%s %q: %+v twice", ty, q, rm)
					seen[rm] = true
				}
			}
			if ty == indicator.IP {
				a := netip.MustParseAddr(v)
				require.Len(t, s.LookupIP(a), len(want), v)
			}
		}
	}
	// A hash is found under its own type only.
	for _, in := range inds {
		for _, other := range []indicator.Type{indicator.SHA256, indicator.SHA1, indicator.MD5} {
			if in.Type != other && len(ref[refKey{other, in.Value}]) == 0 {
				require.Empty(t, s.LookupHash(other, in.Value))
			}
		}
	}
}
