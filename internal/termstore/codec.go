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
	// formatVersion frames the manifest, and the chunks and journal
	// records of stores without host sets (fixed 12-byte terms).
	formatVersion = 1
	// hostsVersion frames chunks and journal records of stores with host
	// sets: each term is followed by its hosts (see appendTermHosts).
	hostsVersion = 2

	// hostsSaturated, as a term's host count, says the set is saturated
	// and lists no hosts.
	hostsSaturated = 0xff

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

func appendHeaderV(b []byte, version, kind byte) []byte {
	return append(b, version, kind)
}

func appendCRC(b []byte) []byte {
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// verify checks checksum, version (formatVersion) and kind and returns the
// body between the header and the checksum.
func verify(b []byte, kind byte) ([]byte, error) {
	body, v, err := verifyTerms(b, kind)
	if err == nil && v != formatVersion {
		return nil, fmt.Errorf("unsupported format version %d", v)
	}
	return body, err
}

// verifyTerms is verify for values that hold terms, which come in both
// versions; it also returns the version.
func verifyTerms(b []byte, kind byte) ([]byte, byte, error) {
	if len(b) < headerLen+crcLen {
		return nil, 0, fmt.Errorf("%d bytes is too short", len(b))
	}
	n := len(b) - crcLen
	if got, want := crc32.Checksum(b[:n], castagnoli), le.Uint32(b[n:]); got != want {
		return nil, 0, fmt.Errorf("checksum %08x, want %08x", got, want)
	}
	if b[0] != formatVersion && b[0] != hostsVersion {
		return nil, 0, fmt.Errorf("unsupported format version %d", b[0])
	}
	if b[1] != kind {
		return nil, 0, fmt.Errorf("record kind %q, want %q", b[1], kind)
	}
	return b[headerLen:n], b[0], nil
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

// newChunk starts a snapshot chunk of the given version with room for size
// bytes of terms; the count is patched in by finishChunk.
func newChunk(version byte, gen uint64, index uint32, size int) []byte {
	b := make([]byte, 0, chunkHead+size+crcLen)
	b = appendHeaderV(b, version, kindChunk)
	b = le.AppendUint64(b, gen)
	b = le.AppendUint32(b, index)
	return le.AppendUint32(b, 0)
}

func appendTerm(b []byte, fp uint64, ts uint32) []byte {
	b = le.AppendUint64(b, fp)
	return le.AppendUint32(b, ts)
}

// appendTermHosts appends a version-2 term: fp u64 | ts u32 | n u8 |
// n × host u32, with n = hostsSaturated (and no hosts) for a saturated set.
func appendTermHosts(b []byte, fp uint64, ts uint32, hosts []uint32, saturated bool) []byte {
	b = appendTerm(b, fp, ts)
	if saturated {
		return append(b, hostsSaturated)
	}
	b = append(b, byte(len(hosts)))
	for _, h := range hosts {
		b = le.AppendUint32(b, h)
	}
	return b
}

// termSize returns the length of the term at the start of b in the given
// version, or an error when b is too short or the host count is invalid.
func termSize(version byte, b []byte) (int, error) {
	if version == formatVersion {
		if len(b) < termLen {
			return 0, errors.New("term truncated")
		}
		return termLen, nil
	}
	if len(b) < termLen+1 {
		return 0, errors.New("term truncated")
	}
	n := int(b[termLen])
	if n == hostsSaturated {
		return termLen + 1, nil
	}
	if n > MaxHosts {
		return 0, fmt.Errorf("term lists %d hosts", n)
	}
	if len(b) < termLen+1+4*n {
		return 0, errors.New("term hosts truncated")
	}
	return termLen + 1 + 4*n, nil
}

// termsLen returns the byte length of n terms of the given version at the
// start of b.
func termsLen(version byte, b []byte, n uint64) (int, error) {
	if version == formatVersion {
		if uint64(len(b)) < n*termLen {
			return 0, fmt.Errorf("%d bytes for %d terms", len(b), n)
		}
		return int(n * termLen), nil
	}
	off := 0
	for range n {
		k, err := termSize(version, b[off:])
		if err != nil {
			return 0, err
		}
		off += k
	}
	return off, nil
}

// eachTerm calls fn for each term packed in b (validated by termsLen):
// hosts is nil for version 1, saturated reports a saturated set.
func eachTerm(version byte, b []byte, fn func(fp uint64, ts uint32, saturated bool, hosts []byte)) {
	for len(b) > 0 {
		k, _ := termSize(version, b)
		fp, ts := le.Uint64(b), le.Uint32(b[8:])
		if version == formatVersion {
			fn(fp, ts, false, nil)
		} else {
			fn(fp, ts, b[termLen] == hostsSaturated, b[termLen+1:k])
		}
		b = b[k:]
	}
}

func finishChunk(b []byte, n int) []byte {
	le.PutUint32(b[chunkHead-4:], uint32(n))
	return appendCRC(b)
}

// decodeChunk checks that the chunk belongs to generation gen at position
// index and returns its version and packed terms.
func decodeChunk(b []byte, gen uint64, index uint32) (byte, []byte, error) {
	body, v, err := verifyTerms(b, kindChunk)
	if err != nil {
		return 0, nil, err
	}
	if len(body) < chunkHead-headerLen {
		return 0, nil, fmt.Errorf("chunk header truncated")
	}
	if g := le.Uint64(body); g != gen {
		return 0, nil, fmt.Errorf("chunk of generation %x, want %x", g, gen)
	}
	if i := le.Uint32(body[8:]); i != index {
		return 0, nil, fmt.Errorf("chunk %d stored as chunk %d", i, index)
	}
	n := le.Uint32(body[12:])
	terms := body[16:]
	if k, err := termsLen(v, terms, uint64(n)); err != nil || k != len(terms) {
		return 0, nil, fmt.Errorf("chunk holds %d bytes for %d terms", len(terms), n)
	}
	return v, terms, nil
}

type journalRecord struct {
	gen, seq uint64
	version  byte
	ups      []byte // packed terms
	dels     []byte // packed fingerprints
}

// newJournal starts a journal record of the given version with room for
// body bytes of terms and deletions; finishJournal patches in the counts.
func newJournal(version byte, gen, seq uint64, body int) []byte {
	b := make([]byte, 0, journalHead+body+crcLen)
	b = appendHeaderV(b, version, kindJournal)
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
	body, v, err := verifyTerms(b, kindJournal)
	if err != nil {
		return journalRecord{}, err
	}
	if len(body) < journalHead-headerLen {
		return journalRecord{}, fmt.Errorf("journal header truncated")
	}
	r := journalRecord{gen: le.Uint64(body), seq: le.Uint64(body[8:]), version: v}
	ups, dels := uint64(le.Uint32(body[16:])), uint64(le.Uint32(body[20:]))
	rest := body[24:]
	k, err := termsLen(v, rest, ups)
	if err != nil || uint64(len(rest)-k) != dels*8 {
		return journalRecord{}, fmt.Errorf("journal holds %d bytes for %d terms and %d deletions", len(rest), ups, dels)
	}
	r.ups, r.dels = rest[:k], rest[k:]
	return r, nil
}
