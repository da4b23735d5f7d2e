// Package sigma is Cairn's native Sigma engine: it parses Sigma detection
// rules (YAML, https://github.com/SigmaHQ/sigma-specification), compiles
// them once, and evaluates them on events read through internal/event.
//
// What a rule can say, and what the engine makes of it:
//
//   - detection: named search identifiers; a map is the AND of its fields,
//     a list of maps the OR of them, a list of values the OR of them (AND
//     with |all); conditions with and, or, not, parentheses, "1 of x*",
//     "any of x*", "all of x*" and "them" (identifiers starting with "_"
//     are left out of patterns and them, as the specification says);
//   - values: case-insensitive strings with the * and ? wildcards and \
//     escapes, numbers, booleans, null (the field is absent), the empty
//     string;
//   - modifiers: contains, startswith, endswith, all, cased, re (Go RE2,
//     searched anywhere in the value, case-sensitive, with the i, m and s
//     flags), cidr, base64, base64offset, windash, exists, gt, gte, lt,
//     lte;
//   - fields: the Sysmon-for-Linux names of the Sigma taxonomy (Image,
//     CommandLine, ParentImage, User, DestinationIp, TargetFilename, ...)
//     mapped to ECS as Elastic's pipelines map them (see mapping.go), and
//     any dotted name read as an event field as is;
//   - logsources: process_creation, network_connection and file_event on
//     Linux, each tied to the ECS events that express it; auditd rules made
//     only of EXECVE arguments, read from process.args.
//
// Anything else makes a rule Unsupported, with a reason and a detail, at
// load: aggregations (the pipe syntax, count, near), keyword searches,
// correlation and filter documents, modifiers the engine does not run,
// fields Cairn's events do not have, logsources Cairn has no events for,
// regular expressions RE2 cannot run, and rules beyond the bounds that keep
// a hostile file cheap (limits.go). A document that is not a valid Sigma
// rule is an error for its file.
//
// Evaluation (Evaluator) reads only what it needs: rules are grouped by
// logsource, and a prefilter built from the literals every rule requires
// (prefilter.go) selects the few rules worth evaluating, from each field's
// lower-cased value read once per event.
package sigma
