package event

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// SignalDetailsKey is the field that carries, for the signals of an event,
// what a detector knows about each raise beyond its name: an array of
// objects, one per raise (SignalDetail). The correlate processor's signal
// catalog gives a signal its weight and, by default, its ATT&CK tactics and
// label; a detail refines one raise of it:
//
//   - Key tells raises of the same signal apart (two different Sigma rules
//     of the same level, two different new binaries): correlate counts
//     distinct keys with diminishing weight instead of the strongest only;
//   - Tactics and Techniques replace the catalog's for this raise (a Sigma
//     rule's own ATT&CK tags);
//   - Label replaces the catalog's label in the alert's explanation (for a
//     Sigma rule its title and author, which the rules' licence requires in
//     match output).
//
// A signal without a detail is counted as before, under its catalog entry.
const SignalDetailsKey = "cairn.signal_details"

// SignalDetail is one object of cairn.signal_details.
type SignalDetail struct {
	// Signal is the name in cairn.signals this detail is about.
	Signal string
	// Key identifies the raise among others of the same signal (e.g.
	// "sigma:<rule id>"); empty: the signal name itself.
	Key string
	// Label is the phrase for the alert's explanation; empty: the
	// catalog's.
	Label string
	// Tactics and Techniques are ATT&CK ids (TA0002, T1059, T1059.004);
	// empty: the catalog's.
	Tactics, Techniques []string
}

// Members of one cairn.signal_details object.
const (
	detailSignal     = "signal"
	detailKey        = "key"
	detailLabel      = "label"
	detailTactics    = "tactics"
	detailTechniques = "techniques"
)

// AddSignalDetail appends d to the event's cairn.signal_details (created
// where the record's shape says). It does not add d.Signal to
// cairn.signals: call AddSignal for that.
func (v *View) AddSignalDetail(d SignalDetail) {
	m := v.AppendObject(SignalDetailsKey)
	m.EnsureCapacity(5)
	m.PutStr(detailSignal, d.Signal)
	if d.Key != "" {
		m.PutStr(detailKey, d.Key)
	}
	if d.Label != "" {
		m.PutStr(detailLabel, d.Label)
	}
	putStrList(m, detailTactics, d.Tactics)
	putStrList(m, detailTechniques, d.Techniques)
}

func putStrList(m pcommon.Map, key string, vals []string) {
	if len(vals) == 0 {
		return
	}
	s := m.PutEmptySlice(key)
	s.EnsureCapacity(len(vals))
	for _, x := range vals {
		s.AppendEmpty().SetStr(x)
	}
}

// SignalDetails calls fn for each well-formed detail of the event (an
// object with a string signal), in order, until fn returns false. The
// strings fn sees are the record's own: copy what must outlive the batch.
func (v *View) SignalDetails(fn func(SignalDetail) bool) {
	val, ok := lookup(v.attrs, SignalDetailsKey)
	if !ok || val.Type() != pcommon.ValueTypeSlice {
		return
	}
	s := val.Slice()
	for i := 0; i < s.Len(); i++ {
		e := s.At(i)
		if e.Type() != pcommon.ValueTypeMap {
			continue
		}
		m := e.Map()
		sig, ok := Find(m, detailSignal)
		if !ok || sig.Type() != pcommon.ValueTypeStr || sig.Str() == "" {
			continue
		}
		d := SignalDetail{Signal: sig.Str(), Key: strOf(m, detailKey), Label: strOf(m, detailLabel),
			Tactics: strListOf(m, detailTactics, nil), Techniques: strListOf(m, detailTechniques, nil)}
		if !fn(d) {
			return
		}
	}
}

func strOf(m pcommon.Map, key string) string {
	if v, ok := Find(m, key); ok && v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return ""
}

// strListOf reads a string or an array of strings into dst.
func strListOf(m pcommon.Map, key string, dst []string) []string {
	v, ok := Find(m, key)
	if !ok {
		return dst
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return append(dst, v.Str())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			if e := s.At(i); e.Type() == pcommon.ValueTypeStr && e.Str() != "" {
				dst = append(dst, e.Str())
			}
		}
	}
	return dst
}
