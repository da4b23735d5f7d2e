package event

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

func TestSignalDetails(t *testing.T) {
	for _, nested := range []bool{true, false} {
		rec := plog.NewLogRecord()
		if nested {
			rec.Attributes().PutEmptyMap("event").PutStr("kind", "event")
		}
		v := NewView()
		v.Reset(pcommon.NewResource(), rec)
		want := []SignalDetail{
			{Signal: "sigma_high", Key: "sigma:abc", Label: `Sigma rule "Reverse shell" by someone`, Tactics: []string{"TA0002"}, Techniques: []string{"T1059", "T1059.004"}},
			{Signal: "new_binary_on_host", Key: "/tmp/x"},
		}
		for _, d := range want {
			v.AddSignalDetail(d)
		}
		// Ill-formed entries are passed over.
		v.AppendObject(SignalDetailsKey).PutInt("signal", 3)
		v.AppendObject(SignalDetailsKey).PutStr("signal", "with_a_string_tactic")
		val, _ := Find(rec.Attributes(), SignalDetailsKey)
		val.Slice().At(val.Slice().Len()-1).Map().PutStr("tactics", "TA0011")

		var got []SignalDetail
		v.SignalDetails(func(d SignalDetail) bool { got = append(got, d); return true })
		assert.Equal(t, append(want, SignalDetail{Signal: "with_a_string_tactic", Tactics: []string{"TA0011"}}), got, "nested %v", nested)

		n := 0
		v.SignalDetails(func(SignalDetail) bool { n++; return false })
		assert.Equal(t, 1, n, "stops when fn says so")
	}
}
