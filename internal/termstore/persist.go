package termstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"
)

const (
	// ChunkTerms bounds the terms per snapshot value (about 768 KiB) so no
	// single stored value is huge.
	ChunkTerms = 64 << 10

	// maxJournalRecords bounds replay work and the number of keys a
	// compaction has to delete.
	maxJournalRecords = 64

	// minCompactBytes keeps a small or empty snapshot from forcing a full
	// rewrite on nearly every flush.
	minCompactBytes = 64 << 10
)

// Persister keeps one Store in a storage.Client under a key prefix, as a
// snapshot plus a journal of change records. It is not safe for concurrent
// use; the caller serialises it with the store it persists.
type Persister struct {
	client     storage.Client
	prefix     string
	gran       uint32
	chunkTerms int // ChunkTerms; smaller in tests

	// known is set once the stored layout below has been read (or found
	// absent). It is cleared after a failed Batch, whose effect is unknown.
	known         bool
	m             manifest // as stored; m.gen also tags journal records
	nextSeq       uint64
	journalCount  int
	journalBytes  int
	snapshotBytes int
	// forceSnapshot is set when storage holds values that must be
	// superseded rather than extended: corrupt ones, or journal records from a
	// partly failed write, which may lie up to writtenEnd.
	forceSnapshot bool
	writtenEnd    uint64
}

// NewPersister returns a Persister writing under prefix; a trailing "/" is
// dropped so "a/" and "a" name the same keys. A term is written again only
// when its time moves into another granularity-second bucket (0 means 1),
// which bounds the write rate of terms refreshed continuously.
func NewPersister(client storage.Client, prefix string, granularity uint32) *Persister {
	return &Persister{
		client:     client,
		prefix:     strings.TrimSuffix(prefix, "/"),
		gran:       max(granularity, 1),
		chunkTerms: ChunkTerms,
	}
}

func (p *Persister) manifestKey() string { return p.prefix + "/m" }

func (p *Persister) chunkKey(gen uint64, i uint32) string {
	return p.prefix + "/s/" + strconv.FormatUint(gen, 16) + "/" + strconv.FormatUint(uint64(i), 10)
}

func (p *Persister) journalKey(seq uint64) string {
	return fmt.Sprintf("%s/j/%016x", p.prefix, seq)
}

func corrupt(key string, err error) error {
	return fmt.Errorf("termstore: key %q: %w: %w", key, ErrCorrupt, err)
}

// Load replays the stored snapshot and then the journal records in order
// into s, through s's own bound, and starts tracking s's changes for Flush.
// s is normally empty. Missing state is not an error. Corrupt values are
// skipped and reported in the returned error, each naming its key; s then
// holds what could be read, and the next Flush writes a fresh snapshot.
func (p *Persister) Load(ctx context.Context, s *Store) error {
	persisted := s.Len() == 0
	s.detach()
	err := p.read(ctx, s)
	if err != nil && !p.known {
		// A client failure: the state is unknown, so Flush will re-read it.
		s.attach(p.gran, false)
		return err
	}
	s.attach(p.gran, persisted && !p.forceSnapshot)
	return err
}

// read learns the stored layout and, when s is not nil, replays it into s.
// p.known stays false only when the client itself failed.
func (p *Persister) read(ctx context.Context, s *Store) error {
	p.known = false
	p.forceSnapshot = false
	p.m, p.nextSeq, p.writtenEnd = manifest{}, 0, 0
	p.journalCount, p.journalBytes, p.snapshotBytes = 0, 0, 0

	key := p.manifestKey()
	raw, err := p.client.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("termstore: get %q: %w", key, err)
	}
	var m manifest // no manifest: an empty generation 0, possibly with a journal
	if raw != nil {
		m, err = decodeManifest(raw)
	}
	if err != nil {
		// Without the manifest neither the chunks nor the journal can be
		// found. A generation unlike any previous one makes every leftover
		// journal record stale.
		p.m.gen = uint64(time.Now().UnixNano())
		p.known = true
		p.forceSnapshot = true
		return corrupt(key, err)
	}
	p.m, p.nextSeq = m, m.journalStart

	var errs []error
	if s != nil {
		var terms uint64
		for i := range m.chunks {
			key := p.chunkKey(m.gen, i)
			raw, err := p.client.Get(ctx, key)
			if err != nil {
				return fmt.Errorf("termstore: get %q: %w", key, err)
			}
			if raw == nil {
				errs = append(errs, corrupt(key, errors.New("snapshot chunk missing")))
				continue
			}
			v, packed, err := decodeChunk(raw, m.gen, i)
			if err != nil {
				errs = append(errs, corrupt(key, err))
				continue
			}
			p.snapshotBytes += len(raw)
			terms += uint64(le.Uint32(raw[chunkHead-4:]))
			s.replay(v, packed)
		}
		if len(errs) == 0 && terms != uint64(m.count) {
			errs = append(errs, corrupt(key, fmt.Errorf("snapshot holds %d terms, manifest says %d", terms, m.count)))
		}
	}

	for seq := m.journalStart; ; seq++ {
		key := p.journalKey(seq)
		raw, err := p.client.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("termstore: get %q: %w", key, err)
		}
		if raw == nil {
			break
		}
		r, err := decodeJournal(raw)
		switch {
		case err != nil:
			// Later records are still replayed: each one holds final values,
			// so losing one loses only its own changes.
			errs = append(errs, corrupt(key, err))
		case r.gen != m.gen:
			// Left over from before a snapshot whose clean-up did not
			// complete; it ends the journal of this generation.
			p.nextSeq = seq
			p.finishRead(errs)
			return errors.Join(errs...)
		case r.seq != seq:
			errs = append(errs, corrupt(key, fmt.Errorf("journal record %d stored at %d", r.seq, seq)))
		case s != nil:
			s.replay(r.version, r.ups)
			for b := r.dels; len(b) > 0; b = b[8:] {
				if i := s.find(le.Uint64(b)); i != 0 {
					s.remove(i)
				}
			}
		}
		p.journalCount++
		p.journalBytes += len(raw)
		p.nextSeq = seq + 1
	}
	p.finishRead(errs)
	return errors.Join(errs...)
}

func (p *Persister) finishRead(errs []error) {
	p.known = true
	p.forceSnapshot = len(errs) > 0
}

// Flush appends one journal record holding the terms changed since the last
// flush. It writes a snapshot instead when the store's changes were not all
// listed, when storage needs repair, or when the journal would outgrow its
// bound (more than 64 records, or more bytes than the snapshot). On error the
// changes stay pending for the next call.
func (p *Persister) Flush(ctx context.Context, s *Store) error {
	if !p.known || p.forceSnapshot || !s.tracking || s.needSnap {
		return p.Snapshot(ctx, s)
	}
	var ups []uint32
	var dels []byte
	s.beginFlush(
		func(i uint32) { ups = append(ups, i) },
		func(fp uint64) { dels = le.AppendUint64(dels, fp) },
	)
	if len(ups)+len(dels) == 0 {
		s.endFlush(true)
		return nil
	}
	// beginFlush hands the most recently queued first; replay goes oldest
	// first.
	slices.Reverse(ups)
	recs, size := p.journalRecords(s, ups, dels)
	if p.journalCount+len(recs) > maxJournalRecords || p.journalBytes+size > max(p.snapshotBytes, minCompactBytes) {
		s.endFlush(false)
		return p.Snapshot(ctx, s)
	}
	var err error
	if len(recs) == 1 {
		err = p.client.Set(ctx, recs[0].Key, recs[0].Value)
	} else {
		err = p.client.Batch(ctx, recs...)
	}
	if err != nil {
		s.endFlush(false)
		if len(recs) > 1 {
			// Some records may have landed. A retry with fewer records (terms
			// evicted meanwhile) would leave later ones to replay stale
			// values, so the retry must be a snapshot.
			p.forceSnapshot = true
			p.writtenEnd = p.nextSeq + uint64(len(recs))
		}
		// A single record is safe to retry under the same key: the retry
		// holds a superset of it.
		return fmt.Errorf("termstore: write journal %d: %w", p.nextSeq, err)
	}
	s.endFlush(true)
	p.nextSeq += uint64(len(recs))
	p.journalCount += len(recs)
	p.journalBytes += size
	return nil
}

// journalRecords packs changed terms and then deletions into records of at
// most chunkTerms items each, under consecutive sequences, so a burst of
// changes does not produce one huge value. Replaying them in sequence order
// applies terms before deletions, as a single record would.
func (p *Persister) journalRecords(s *Store, ups []uint32, dels []byte) ([]*storage.Operation, int) {
	var ops []*storage.Operation
	size := 0
	seq := p.nextSeq
	v := s.version()
	maxBytes := p.chunkTerms * termLen
	for len(ups)+len(dels) > 0 {
		rec := newJournal(v, p.m.gen, seq, min(len(ups), p.chunkTerms)*termLen+min(len(dels), p.chunkTerms*8))
		nu := 0
		// Terms with hosts vary in size: a record also closes at the byte
		// size of chunkTerms plain terms.
		for nu < len(ups) && nu < p.chunkTerms && len(rec)-journalHead < maxBytes {
			rec = s.appendEntry(rec, v, ups[nu])
			nu++
		}
		nd := min(len(dels)/8, p.chunkTerms-nu)
		if len(rec)-journalHead >= maxBytes {
			nd = 0
		}
		rec = append(rec, dels[:nd*8]...)
		rec = finishJournal(rec, nu, nd)
		ups, dels = ups[nu:], dels[nd*8:]
		ops = append(ops, storage.SetOperation(p.journalKey(seq), rec))
		size += len(rec)
		seq++
	}
	return ops, size
}

// Snapshot rewrites the whole store under a new generation and drops the
// previous snapshot and journal in the same Batch. The new chunks come first
// and the manifest after them, so a client that applies a Batch only partly
// leaves either the old manifest with its intact chunks and journal, or the
// new manifest with its complete chunks and no journal.
func (p *Persister) Snapshot(ctx context.Context, s *Store) error {
	if !p.known {
		if err := p.read(ctx, nil); err != nil && !p.known {
			return err
		}
	}
	gen := p.m.gen + 1
	var ops []*storage.Operation
	var chunk []byte
	var nChunks uint32
	size, inChunk := 0, 0
	flush := func() {
		chunk = finishChunk(chunk, inChunk)
		size += len(chunk)
		ops = append(ops, storage.SetOperation(p.chunkKey(gen, nChunks), chunk))
		nChunks++
		chunk, inChunk = nil, 0
	}
	v := s.version()
	maxBytes := p.chunkTerms * termLen
	left := s.Len()
	for i := s.entries[0].prev; i != 0; i = s.entries[i].prev {
		if chunk == nil {
			chunk = newChunk(v, gen, nChunks, min(left, p.chunkTerms)*termLen)
		}
		chunk = s.appendEntry(chunk, v, i)
		inChunk++
		left--
		// Terms with hosts vary in size: a chunk also closes at the byte
		// size of chunkTerms plain terms.
		if inChunk == p.chunkTerms || len(chunk)-chunkHead >= maxBytes {
			flush()
		}
	}
	if chunk != nil {
		flush()
	}
	next := manifest{
		gen:              gen,
		count:            uint32(s.Len()),
		chunks:           nChunks,
		journalStart:     p.nextSeq,
		prevGen:          p.m.gen,
		prevChunks:       p.m.chunks,
		prevJournalStart: p.m.journalStart,
	}
	ops = append(ops, storage.SetOperation(p.manifestKey(), encodeManifest(next)))
	ops = p.appendDeletes(ops, p.m.gen, p.m.chunks, p.m.journalStart, max(p.nextSeq, p.writtenEnd))
	if p.m.prevGen != p.m.gen {
		// Normally gone already; see manifest.prevGen.
		ops = p.appendDeletes(ops, p.m.prevGen, p.m.prevChunks, p.m.prevJournalStart, p.m.journalStart)
	}
	if err := p.client.Batch(ctx, ops...); err != nil {
		// A partly applied Batch leaves storage in one of the two consistent
		// states, but which one is unknown: re-read it before the next write.
		p.known = false
		return fmt.Errorf("termstore: write snapshot %x: %w", gen, err)
	}
	p.m = next
	p.journalCount = 0
	p.writtenEnd = 0
	p.journalBytes = 0
	p.snapshotBytes = size
	p.forceSnapshot = false
	s.snapshotDone(p.gran)
	return nil
}

// appendDeletes adds deletions for a generation's chunks and its journal
// records [from, to).
func (p *Persister) appendDeletes(ops []*storage.Operation, gen uint64, chunks uint32, from, to uint64) []*storage.Operation {
	for i := range chunks {
		ops = append(ops, storage.DeleteOperation(p.chunkKey(gen, i)))
	}
	for seq := from; seq < to; seq++ {
		ops = append(ops, storage.DeleteOperation(p.journalKey(seq)))
	}
	return ops
}

// version is the format of the store's chunks and journal records.
func (s *Store) version() byte {
	if s.hs != nil {
		return hostsVersion
	}
	return formatVersion
}

// appendEntry appends entry i as a term of the given version.
func (s *Store) appendEntry(b []byte, version byte, i uint32) []byte {
	e := &s.entries[i]
	if version == formatVersion {
		return appendTerm(b, e.fp, e.ts)
	}
	var buf [MaxHosts]uint32
	hosts, saturated := s.hs.list(i, buf[:0])
	return appendTermHosts(b, e.fp, e.ts, hosts, saturated)
}

// replay restores packed terms of the given version. Version-1 terms loaded
// into a store with host sets come from before host sets were kept (or
// from a tracker that did not count hosts): whoever saw them, they were
// known everywhere, so they count as saturated rather than as seen on no
// host, which would make every one of them rare again. Hosts of version-2
// terms loaded into a store without host sets are dropped.
func (s *Store) replay(version byte, packed []byte) {
	eachTerm(version, packed, func(fp uint64, ts uint32, saturated bool, hosts []byte) {
		i := s.restore(fp, ts)
		if s.hs == nil {
			return
		}
		if version == formatVersion {
			saturated = true
		}
		s.hs.restoreList(i, saturated, hosts)
	})
}
