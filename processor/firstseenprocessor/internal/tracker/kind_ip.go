package tracker

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cairnsec/cairn/internal/netclass"
)

// ipKind takes addresses in their 16-byte form, so textual variants
// (IPv4-mapped, zones, brackets) are one term, and applies the tracker's
// external-only rule.
type ipKind struct{}

func (ipKind) Name() string { return "ip" }

func (ipKind) Append(dst []byte, val pcommon.Value, env *Env) ([]byte, Outcome, string) {
	if val.Type() != pcommon.ValueTypeStr {
		return dst, ValueMalformed, "not_ip"
	}
	// Several trackers read the same destination.ip of an event: parse and
	// classify it once.
	s := val.Str()
	if !env.ipValid || s != env.ipText {
		env.ipText = s
		env.ipAddr, env.ipOK = netclass.ParseAddr(s)
		env.ipExternal = env.ipOK && env.Classifier.IsExternal(env.ipAddr)
		env.ipValid = true
	}
	if !env.ipOK {
		return dst, ValueMalformed, "not_ip"
	}
	if env.onlyExternal && !env.ipExternal {
		return dst, ValueIgnored, ""
	}
	b := env.ipAddr.As16()
	return append(dst, b[:]...), ValueUsable, ""
}
