// Package ecs converts between ECS documents (Elastic Common Schema: one JSON
// object per document, as stored in Elasticsearch _source and written one per
// line in NDJSON) and OpenTelemetry log records.
//
// Both directions are built for replaying large captures on one core: a
// Decoder and an Encoder each keep their scratch state between calls, so reuse
// one per goroutine. Encoding allocates nothing once its buffers have grown.
//
// # Decoding
//
// The document must be a single JSON object. Each top-level key becomes a
// record attribute, verbatim: a dotted key such as "process.name" stays one
// attribute and a nested object stays a Map, so Decode followed by Encode
// reproduces the document's shape. Objects become Maps, arrays Slices, strings
// Str and booleans Bool. A number becomes an Int when its text has neither
// fraction nor exponent and it fits int64, and a Double otherwise. A null
// object member is left out; a null array element stays as an Empty value so
// that positions are kept. Duplicate keys keep the last value in the first
// position (a last null removes the key). Keys are made valid UTF-8 (each
// invalid byte becomes U+FFFD, as the Encoder writes it) before anything
// else, so two keys that differ only there are one key. Decode replaces the
// record's attributes, sets its Timestamp as below (zero when the document
// has no usable @timestamp) and leaves everything else, including the body,
// alone.
//
// DecodeID also works out the record's content id (internal/event) while it
// decodes, which costs a fraction of walking the record afterwards.
//
// A top-level "@timestamp" that is an RFC 3339 string (fraction optional, "Z"
// or a numeric offset) or a number of epoch milliseconds sets the record's
// Timestamp and is not kept as an attribute. Anything else, including times
// before 1970 or exactly at the epoch, which a Timestamp cannot tell apart
// from "unset", stays in the attributes unchanged, so nothing is lost.
//
// Numbers follow the JSON grammar strictly, since they decide Int versus
// Double; NaN, Infinity, malformed numbers and numbers beyond the range of a
// float64 are errors (an infinity could only be written back as null, losing
// the value without a word). Strings are taken as the underlying fastjson
// parser reads them: an unknown escape sequence or a raw control character is
// kept as it is rather than rejected, and invalid UTF-8 in values is passed
// through (the Encoder replaces it). Checking strings strictly as well would
// take a second pass over every document.
//
// Decoded strings are copied into slabs of memory shared by consecutive
// documents, which saves an allocation per key and per string value; a record
// kept alive keeps its slab, up to 32 KiB, alive too.
//
// # Encoding
//
// The Encoder writes one JSON object without a trailing newline. Its first key
// is "@timestamp": the record's event time as internal/event defines it (the
// record Timestamp, else an @timestamp attribute or body field that parses,
// else the ObservedTimestamp), so the stored time is the time the processors
// used. It is written in UTC with three fractional digits, or nine when
// there are sub-millisecond digits, and attributes at or under "@timestamp"
// are dropped. A record without any time gets Extra.Now when the writer
// gives one; otherwise an unparsable "@timestamp" attribute, if any, is
// written in that place as it is.
//
// AppendDoc adds what a writer puts in the document without changing the
// record (Extra): event.id and ecs.version unless the record has them,
// event.dataset, event.ingested and data_stream.* in place of the record's.
// Like log.level, trace.id and span.id below, each goes inside the object of
// its name (created at the end of the document when missing): a replaced
// member keeps its position, an added one comes last.
//
// The rest is one nested document merged from the resource attributes, the
// record attributes and the record body when it is a Map. Dotted keys are
// expanded into nested objects and merged with Maps found at the same path,
// at every depth, including Maps inside Slices. A key with an empty segment
// (leading, trailing or doubled dot) is not expanded, because Elasticsearch
// would reject the empty field name it would create. Keys keep the order in
// which they first appear.
//
// When one leaf is written several ways — a flat dotted key and nested maps
// ({"host.name":"decoy-01","host":{"name":"web-03"}}), or in the attributes
// and in the body or resource — the document keeps the value the event
// model (internal/event) reads for that field, so that what is stored is
// what the processors acted on, whatever the order of the keys: the record
// attributes over the Map body over the resource; within one map the key
// that holds the rest of the path whole (flat) over nested maps, and among
// nested forms the shortest prefix first; of the same key twice in one map
// (possible on the wire), the first. The value keeps the place where the
// leaf first appears.
//
// When a path is both a leaf and an object, for example host="x" and
// host.name="y", the object wins and the leaf value is written as its "value"
// child: {"host":{"name":"y","value":"x"}}. Elasticsearch cannot map one field
// as both, and dropping either side would lose data. If the object already has
// an explicit "value" child, that child wins.
//
// After the merge, a body that is a non-empty string becomes "message" unless
// a "message" field exists, and any other non-empty, non-Map body becomes
// "message" as the text of Value.AsString (which allocates for a Slice body,
// the one case not formatted in place). SeverityText becomes "log.level",
// and non-empty trace and span IDs become "trace.id" and "span.id" in
// lowercase hex, each only when the document does not have that field yet.
//
// Values: strings are escaped for JSON, including U+2028 and U+2029, and each
// invalid UTF-8 byte is replaced by U+FFFD; bytes are standard base64 strings;
// NaN and infinities become null because JSON cannot express them; other
// doubles use the shortest text that reads back as the same number, with ".0"
// appended when that text looks like an integer so that the value decodes as a
// Double again; Empty becomes null.
package ecs
