//go:build unix

package feed

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// TestOnlyRegularFilesAreRead: opening a FIFO for reading waits for a
// writer, so a FIFO in the feed directory hung the load for good.
func TestOnlyRegularFilesAreRead(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "feed.csv")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for _, path := range []string{fifo, os.DevNull, t.TempDir()} {
		done := make(chan error, 1)
		go func() {
			_, _, err := ParseFile(path, func(indicator.Indicator) error { return nil })
			done <- err
		}()
		select {
		case err := <-done:
			require.Error(t, err, path)
			var le *LimitError
			require.True(t, errors.As(err, &le), "%s: %v", path, err)
			assert.Equal(t, ReasonNotRegular, le.Reason)
		case <-time.After(10 * time.Second):
			t.Fatalf("opening %s blocked", path)
		}
	}
}
