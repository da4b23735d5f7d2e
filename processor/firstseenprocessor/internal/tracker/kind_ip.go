package tracker

import (
	"net/netip"

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
	a := env.ipAddr
	env.lastAddr = a
	if env.onlyExternal && !env.ipExternal {
		return dst, ValueIgnored, ""
	}
	b := a.As16()
	return append(dst, b[:]...), ValueUsable, ""
}

// addrOf returns the address parsed by the last ipKind.Append call.
func (e *Env) addrOf() netip.Addr { return e.lastAddr }
