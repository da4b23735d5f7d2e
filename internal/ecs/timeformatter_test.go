package ecs

import (
	"testing"
	"time"
)

// TimeFormatter agrees with the time package, over the years @timestamp can
// hold, and writes a time before 1970 as the epoch.
func TestTimeFormatterMatchesTimePackage(t *testing.T) {
	var f TimeFormatter
	for sec := int64(0); sec < 9e9; sec += 86400*3 + 3601 {
		for _, frac := range []int64{0, 5e6, 123456789} {
			ns := sec*1e9 + frac
			want := `"` + time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000") + `Z"`
			if frac%1e6 != 0 {
				want = `"` + time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000") + `Z"`
			}
			if got := string(f.Append(nil, ns)); got != want {
				t.Fatalf("%d: %s, want %s", ns, got, want)
			}
		}
	}
	if got := string(f.Append(nil, -1)); got != `"1970-01-01T00:00:00.000Z"` {
		t.Fatalf("before 1970: %s", got)
	}
}
