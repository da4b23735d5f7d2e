package termstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// ErrCorrupt marks a stored value that failed to decode or verify.
var ErrCorrupt = errors.New("termstore: corrupt record")

const (
	formatVersion = 1

	kindManifest = 'M'
	kindChunk    = 'S'
	kindJournal  = 'J'

	headerLen   = 2 // version, kind
	crcLen      = 4
	termLen     = 12 // fingerprint u64, time u32
	manifestLen = headerLen + 2*(8+4+8) + 4 + crcLen
	chunkHead   = headerLen + 8 + 4 + 4
	journalHead = headerLen + 8 + 8 + 4 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var le = binary.LittleEndian

type manifest struct {
	gen          uint64 // snapshot generation; names the chunk keys
	count        uint32 // terms in the snapshot
	chunks       uint32
	journalStart uint64 // sequence of the first journal record after the snapshot

	// The generation this one replaced. Its keys are deleted in the same
	// Batch that writes this manifest; naming them here lets the next
	// snapshot finish that clean-up when the Batch was only partly applied.
	prevGen          uint64
	prevChunks       uint32
	prevJournalStart uint64
}

func appendHeader(b []byte, kind byte) []byte {
	return append(b, formatVersion, kind)
}

func appendCRC(b []byte) []byte {
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// verify checks checksum, version and kind and returns the body between the
// header and the checksum.
func verify(b []byte, kind byte) ([]byte, error) {
	if len(b) < headerLen+crcLen {
		return nil, fmt.Errorf("%d bytes is too short", len(b))
	}
	n := len(b) - crcLen
	if got, want := crc32.Checksum(b[:n], castagnoli), le.Uint32(b[n:]); got != want {
		return nil, fmt.Errorf("checksum %08x, want %08x", got, want)
	}
	if b[0] != formatVersion {
		return nil, fmt.Errorf("unsupported format version %d", b[0])
	}
	if b[1] != kind {
		return nil, fmt.Errorf("record kind %q, want %q", b[1], kind)
	}
	return b[headerLen:n], nil
}

func encodeManifest(m manifest) []byte {
	b := make([]byte, 0, manifestLen)
	b = appendHeader(b, kindManifest)
	b = le.AppendUint64(b, m.gen)
	b = le.AppendUint32(b, m.count)
	b = le.AppendUint32(b, m.chunks)
	b = le.AppendUint64(b, m.journalStart)
	b = le.AppendUint64(b, m.prevGen)
	b = le.AppendUint32(b, m.prevChunks)
	b = le.AppendUint64(b, m.prevJournalStart)
	return appendCRC(b)
}

func decodeManifest(b []byte) (manifest, error) {
	body, err := verify(b, kindManifest)
	if err != nil {
		return manifest{}, err
	}
	if len(b) != manifestLen {
		return manifest{}, fmt.Errorf("manifest is %d bytes, want %d", len(b), manifestLen)
	}
	return manifest{
		gen:          le.Uint64(body),
		count:        le.Uint32(body[8:]),
		chunks:       le.Uint32(body[12:]),
		journalStart: le.Uint64(body[16:]),

		prevGen:          le.Uint64(body[24:]),
		prevChunks:       le.Uint32(body[32:]),
		prevJournalStart: le.Uint64(body[36:]),
	}, nil
}

// newChunk starts a snapshot chunk with room for n terms; the count is
// patched in by finishChunk.
func newChunk(gen uint64, index uint32, n int) []byte {
	b := make([]byte, 0, chunkHead+n*termLen+crcLen)
	b = appendHeader(b, kindChunk)
	b = le.AppendUint64(b, gen)
	b = le.AppendUint32(b, index)
	return le.AppendUint32(b, 0)
}

func appendTerm(b []byte, fp uint64, ts uint32) []byte {
	b = le.AppendUint64(b, fp)
	return le.AppendUint32(b, ts)
}

func finishChunk(b []byte) []byte {
	le.PutUint32(b[chunkHead-4:], uint32((len(b)-chunkHead)/termLen))
	return appendCRC(b)
}

// decodeChunk checks that the chunk belongs to generation gen at position
// index and returns its packed terms.
func decodeChunk(b []byte, gen uint64, index uint32) ([]byte, error) {
	body, err := verify(b, kindChunk)
	if err != nil {
		return nil, err
	}
	if len(body) < chunkHead-headerLen {
		return nil, fmt.Errorf("chunk header truncated")
	}
	if g := le.Uint64(body); g != gen {
		return nil, fmt.Errorf("chunk of generation %x, want %x", g, gen)
	}
	if i := le.Uint32(body[8:]); i != index {
		return nil, fmt.Errorf("chunk %d stored as chunk %d", i, index)
	}
	n := le.Uint32(body[12:])
	terms := body[16:]
	if uint64(len(terms)) != uint64(n)*termLen {
		return nil, fmt.Errorf("chunk holds %d bytes for %d terms", len(terms), n)
	}
	return terms, nil
}

type journalRecord struct {
	gen, seq uint64
	ups      []byte // packed terms
	dels     []byte // packed fingerprints
}

// newJournal starts a journal record with room for body bytes of terms and
// deletions; finishJournal patches in the counts.
func newJournal(gen, seq uint64, body int) []byte {
	b := make([]byte, 0, journalHead+body+crcLen)
	b = appendHeader(b, kindJournal)
	b = le.AppendUint64(b, gen)
	b = le.AppendUint64(b, seq)
	b = le.AppendUint32(b, 0)
	return le.AppendUint32(b, 0)
}

func finishJournal(b []byte, ups, dels int) []byte {
	le.PutUint32(b[journalHead-8:], uint32(ups))
	le.PutUint32(b[journalHead-4:], uint32(dels))
	return appendCRC(b)
}

func decodeJournal(b []byte) (journalRecord, error) {
	body, err := verify(b, kindJournal)
	if err != nil {
		return journalRecord{}, err
	}
	if len(body) < journalHead-headerLen {
		return journalRecord{}, fmt.Errorf("journal header truncated")
	}
	r := journalRecord{gen: le.Uint64(body), seq: le.Uint64(body[8:])}
	ups, dels := uint64(le.Uint32(body[16:])), uint64(le.Uint32(body[20:]))
	rest := body[24:]
	if uint64(len(rest)) != ups*termLen+dels*8 {
		return journalRecord{}, fmt.Errorf("journal holds %d bytes for %d terms and %d deletions", len(rest), ups, dels)
	}
	r.ups, r.dels = rest[:ups*termLen], rest[ups*termLen:]
	return r, nil
}
