//go:build !linux

package procfs

import (
	"errors"
	"io"
	"os"
)

// readInto reads a file into buf, up to len(buf) bytes (there is no /proc
// to read quickly outside Linux; this keeps the package building).
func readInto(path string, buf []byte) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}
