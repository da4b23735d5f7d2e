// Package event is Cairn's event model: the one place that reads an event's
// fields from an OpenTelemetry log record and writes Cairn's results back.
//
// Host telemetry reaches Cairn in many shapes: ECS documents parsed from JSON
// (nested maps), flat dotted attribute keys from OTLP senders, a map in the
// log body, and OTel semantic-convention names instead of ECS ones. Every
// stage reads through Field lookups so it need not care which shape arrived:
//
//   - a Field has an ECS name and alternative names (semantic conventions),
//     tried in order;
//   - each name is looked up in the record attributes, then a map body, then
//     the resource attributes, and in each of them as a flat key, as nested
//     maps, or any mix of the two ("process" → {"executable.path": …});
//   - lookups do not allocate.
//
// Writes go to the record attributes and follow the record's shape: a record
// that arrived as a nested ECS document (its "event" is an object) gets
// nested fields, any other record flat dotted keys (the OTel attribute
// convention). The ECS encoder nests flat keys on output either way.
//
// event.id: a stage that changes an event gives it an id first (EnsureID);
// outputs give every other event its id when they write it. The id is
// derived from the content, leaving out Cairn's own cairn.* fields, so both
// paths give the same id for the same event.
package event
