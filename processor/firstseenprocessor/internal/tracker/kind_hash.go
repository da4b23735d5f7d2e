package tracker

import "go.opentelemetry.io/collector/pdata/pcommon"

// hashKind takes hex digests, lower-cased: feeds and sensors disagree on
// case, and a hash that is not hex is a sensor bug, not a new binary.
type hashKind struct{}

func (hashKind) Name() string { return "hash" }

func (hashKind) Append(dst []byte, val pcommon.Value, _ *Env) ([]byte, Outcome, string) {
	if val.Type() != pcommon.ValueTypeStr {
		return dst, ValueMalformed, "not_hash"
	}
	s := val.Str()
	if len(s) < 8 || len(s) > 128 {
		return dst, ValueMalformed, "not_hash"
	}
	start := len(dst)
	dst = append(dst, s...)
	out := dst[start:]
	for i, c := range out {
		l := hexLower[c]
		if l == 0 {
			return dst[:start], ValueMalformed, "not_hash"
		}
		out[i] = l
	}
	return dst, ValueUsable, ""
}

// hexLower maps hex digits to their lower-case form and everything else to 0.
var hexLower = func() (t [256]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c)
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c)
		t[c-'a'+'A'] = byte(c)
	}
	return t
}()
