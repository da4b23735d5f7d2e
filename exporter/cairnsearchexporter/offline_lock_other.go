//go:build !unix

package cairnsearchexporter

import "os"

// lockOfflineDir: no flock(2) here; one writer per directory is up to the
// configuration.
func lockOfflineDir(string) (*os.File, error) { return nil, nil }
