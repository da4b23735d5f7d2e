// Package termstore remembers, for one first-seen tracker, which term
// fingerprints it has seen and when it last (or first) saw them by event time.
//
// A Store is a bounded LRU keyed by 64-bit fingerprints that costs about 32
// bytes per held term, index included, and needs no allocation once grown; a
// Go map plus a container/list would cost several times that. A Persister keeps a Store in a
// collector storage extension client as a snapshot plus an append-only
// journal, so steady-state writes are proportional to what changed.
//
// # Key layout
//
// For a Persister created with prefix P:
//
//	P/m                manifest: current generation, term count, chunk count,
//	                   sequence of the first journal record after the
//	                   snapshot, and the same for the generation it replaced
//	P/s/<gen>/<i>      snapshot chunk i (decimal) of generation gen (hex),
//	                   up to ChunkTerms terms each, least recently used first
//	P/j/<seq>          journal record seq (16 hex digits); sequences carry on
//	                   across generations, and each record names the
//	                   generation it extends
//
// Without P/m the state is generation 0: no snapshot, and journal records
// from sequence 0 if any.
//
// # Value format
//
// Every value is little-endian and framed as
//
//	version u8 (=1) | kind u8 | body | crc32c u32 over everything before it
//
// with these bodies:
//
//	manifest 'M': gen u64 | count u32 | chunks u32 | journalStart u64 |
//	              prevGen u64 | prevChunks u32 | prevJournalStart u64
//	chunk    'S': gen u64 | index u32 | n u32 | n × (fp u64, ts u32)
//	journal  'J': gen u64 | seq u64 | ups u32 | dels u32 |
//	              ups × (fp u64, ts u32) | dels × fp u64
//
// A journal record carries final stored values (already max- or min-merged),
// so replay sets them as they are; its deletions are applied after its terms.
// Chunks and records repeat their generation and position so a value found
// under the wrong key, or left over from an older generation, is recognised.
//
// # Write protocol
//
// Flush writes one journal record with a single Set, or, when more than
// ChunkTerms terms changed, consecutive records in one Batch; after such a
// Batch fails the next flush is a snapshot, since a retry with fewer records
// would leave landed ones to replay stale values. Snapshot writes one
// Batch: the new generation's chunks, then the manifest naming them with
// journalStart set to the next sequence, then deletions of the previous
// generation's chunks and of its journal records. When the client applies the
// Batch atomically (the file storage extension does) there is nothing more to
// say. When it applies only a prefix, the old manifest still names the old,
// intact chunks and journal; once the new manifest is in, the new chunks are
// complete and old journal records lie below journalStart, where Load never
// looks. Load stops the journal at the first missing record or at a record of
// another generation, which is what an interrupted clean-up leaves behind.
//
// # Recency after restart
//
// Snapshots preserve LRU order exactly. Journal records list terms in the
// order they became dirty, and a term refreshed within its time bucket is not
// written at all, so after a restart from a journal the recency order, and
// hence which terms a full store evicts first, is approximate.
package termstore
