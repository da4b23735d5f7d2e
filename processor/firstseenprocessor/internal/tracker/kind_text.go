package tracker

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cairnsec/cairn/internal/event"
)

// textKind takes a scalar as it is: executables, user names, ports.
type textKind struct{}

func (textKind) Name() string { return "text" }

func (textKind) Append(dst []byte, val pcommon.Value, env *Env) ([]byte, Outcome, string) {
	if val.Type() == pcommon.ValueTypeStr && len(val.Str()) > env.MaxValueBytes {
		return dst, ValueMalformed, "too_long"
	}
	out, ok := event.AppendValue(dst, val)
	if !ok {
		return dst, ValueMalformed, "not_scalar"
	}
	return out, ValueUsable, ""
}
