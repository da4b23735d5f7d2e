package filereceiver

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cairnsec/cairn/internal/normalize"
)

// checkpointKey is the storage key of the receiver's checkpoints, in the
// storage client of this receiver (one per component ID).
const checkpointKey = "checkpoints"

// checkpointVersion is the first byte of an encoded checkpoint list.
// Version 2 added the normaliser's header; version 1 lists (written
// before) are still read, without one.
const checkpointVersion = 2

// checkpoint is what is kept of one file: its identity (device, inode and a
// hash of its first fpLen bytes, fpLen at most fingerprint_bytes), the
// offset just past the last line delivered, and the header lines in force
// there (a Zeek TSV header, normalize.Stream.Header), so that a file
// resumed past its header reads its rows under it. The path is only
// informative.
type checkpoint struct {
	key    fileKey
	fpLen  int
	fpHash uint64
	offset int64
	path   string
	header []byte
}

// appendCheckpoint encodes one checkpoint.
func appendCheckpoint(b []byte, c checkpoint) []byte {
	b = binary.AppendUvarint(b, c.key.dev)
	b = binary.AppendUvarint(b, c.key.ino)
	b = binary.AppendUvarint(b, uint64(c.fpLen))
	b = binary.LittleEndian.AppendUint64(b, c.fpHash)
	b = binary.AppendUvarint(b, uint64(c.offset))
	b = binary.AppendUvarint(b, uint64(len(c.path)))
	b = append(b, c.path...)
	b = binary.AppendUvarint(b, uint64(len(c.header)))
	return append(b, c.header...)
}

// decodeCheckpoints reads a list written by the reader's snapshot.
func decodeCheckpoints(b []byte) ([]checkpoint, error) {
	if len(b) == 0 {
		return nil, nil
	}
	version := b[0]
	if version != 1 && version != checkpointVersion {
		return nil, fmt.Errorf("unknown checkpoint version %d", b[0])
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errors.New("corrupt checkpoint count")
	}
	b = b[k:]
	out := make([]checkpoint, 0, n)
	uv := func() uint64 {
		if b == nil {
			return 0
		}
		v, k := binary.Uvarint(b)
		if k <= 0 {
			b = nil
			return 0
		}
		b = b[k:]
		return v
	}
	for range n {
		var c checkpoint
		c.key.dev = uv()
		c.key.ino = uv()
		c.fpLen = int(uv())
		if len(b) < 8 {
			return nil, errors.New("truncated checkpoint")
		}
		c.fpHash = binary.LittleEndian.Uint64(b)
		b = b[8:]
		c.offset = int64(uv())
		pl := uv()
		if b == nil || pl > uint64(len(b)) || c.offset < 0 || c.fpLen < 0 {
			return nil, errors.New("truncated checkpoint")
		}
		c.path = string(b[:pl])
		b = b[pl:]
		if version >= 2 {
			hl := uv()
			if b == nil || hl > uint64(len(b)) {
				return nil, errors.New("truncated checkpoint")
			}
			if hl > normalize.MaxHeaderKeep {
				return nil, errors.New("checkpoint header too long")
			}
			if hl > 0 {
				c.header = append([]byte(nil), b[:hl]...)
			}
			b = b[hl:]
		}
		out = append(out, c)
	}
	return out, nil
}
