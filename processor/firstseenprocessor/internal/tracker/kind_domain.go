package tracker

import "go.opentelemetry.io/collector/pdata/pcommon"

// domainKind takes DNS names lower-cased without the trailing root dot, so
// "L.GS.THC.ORG." and "l.gs.thc.org" are one term.
type domainKind struct{}

func (domainKind) Name() string { return "domain" }

func (domainKind) Append(dst []byte, val pcommon.Value, _ *Env) ([]byte, Outcome, string) {
	if val.Type() != pcommon.ValueTypeStr {
		return dst, ValueMalformed, "not_domain"
	}
	s := val.Str()
	if n := len(s); n > 0 && s[n-1] == '.' {
		s = s[:n-1]
	}
	if len(s) == 0 || len(s) > 253 {
		return dst, ValueMalformed, "not_domain"
	}
	start := len(dst)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 0x80:
			// IDNs arrive either as punycode or as UTF-8; keep UTF-8 bytes as they are.
		default:
			return dst[:start], ValueMalformed, "not_domain"
		}
		dst = append(dst, c)
	}
	return dst, ValueUsable, ""
}
