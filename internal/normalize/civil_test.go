package normalize

import (
	"testing"
	"time"
)

// The hand-written date formatting agrees with the time package, day by
// day over the years @timestamp can hold.
func TestTimeFormatMatchesTimePackage(t *testing.T) {
	var f timeFormat
	for sec := int64(0); sec < 9e9; sec += 86400*3 + 3601 {
		for _, frac := range []int64{0, 5e6, 123456789} {
			ns := sec*1e9 + frac
			want := `"` + time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000") + `Z"`
			if frac%1e6 != 0 {
				want = `"` + time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000") + `Z"`
			}
			if got := string(f.append(nil, ns)); got != want {
				t.Fatalf("%d: %s, want %s", ns, got, want)
			}
		}
	}
}
