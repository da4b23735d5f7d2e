package feed

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

func TestZZSmoke(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.*")
	more, _ := filepath.Glob("testdata/realdata/*/*.json")
	files = append(files, more...)
	for _, f := range files {
		if filepath.Ext(f) == ".md" {
			continue
		}
		fmt.Println("=====", f)
		format, st, err := ParseFile(f, func(i indicator.Indicator) error {
			fmt.Printf("  %-6s %-66s port=%d %s prov=%q conf=%d name=%q fs=%s vf=%s vu=%s\n", i.Type, i.Value, i.Port, i.Verdict, i.Provider, i.Confidence, i.Name, i.FirstSeen.Format("2006-01-02T15:04:05"), i.ValidFrom.Format("2006-01-02T15:04"), i.ValidUntil.Format("2006-01-02T15:04"))
			return nil
		})
		name := ""
		if format != nil {
			name = format.Name()
		}
		fmt.Printf("  format=%s err=%v ind=%d skipped=%d ignored=%d\n", name, err, st.Indicators, st.Skipped, st.Ignored)
		for _, p := range st.Problems {
			fmt.Println("   problem:", p)
		}
	}
}
