// Package templates builds what the cairn_search exporter installs at start:
// component and composable index templates with explicit ECS mappings for
// every field Cairn writes, and the rollover/retention policy (ILM for
// Elasticsearch, ISM for OpenSearch). The same payloads are kept as files
// under deploy/elasticsearch and deploy/opensearch for manual installs.
package templates

import "strings"

// Field is one mapped field: its dotted path and ECS type.
type Field struct {
	Path string
	Type string
}

// Types used below. Only types both Elasticsearch 8/9 and OpenSearch 2/3
// know, so that one mapping serves both.
const (
	tKeyword = "keyword"
	tText    = "text"
	tIP      = "ip"
	tLong    = "long"
	tFloat   = "float"
	tDate    = "date"
	tBool    = "boolean"
	tNested  = "nested"
	tStored  = "stored" // keyword kept in _source only (index and doc_values off), as ECS maps event.original
)

// Nested lists the paths that are arrays of objects whose members must stay
// together in queries: ECS maps threat.enrichments as nested, and Cairn's
// alert contributions follow the same rule.
var Nested = []string{"threat.enrichments", "cairn.alert.contributions"}

// Fields is every field Cairn writes or reads, with its ECS type. Strings not
// listed are mapped as keyword by a dynamic template, and cairn.first_seen.*
// flags as boolean.
var Fields = []Field{
	{"@timestamp", tDate},
	{"message", tText},
	{"tags", tKeyword},
	{"ecs.version", tKeyword},
	{"data_stream.type", tKeyword},
	{"data_stream.dataset", tKeyword},
	{"data_stream.namespace", tKeyword},
	{"log.level", tKeyword},
	{"trace.id", tKeyword},
	{"span.id", tKeyword},

	{"agent.id", tKeyword},
	{"agent.ephemeral_id", tKeyword},
	{"agent.name", tKeyword},
	{"agent.type", tKeyword},
	{"agent.version", tKeyword},

	{"event.id", tKeyword},
	{"event.kind", tKeyword},
	{"event.category", tKeyword},
	{"event.type", tKeyword},
	{"event.action", tKeyword},
	{"event.outcome", tKeyword},
	{"event.module", tKeyword},
	{"event.dataset", tKeyword},
	{"event.provider", tKeyword},
	{"event.code", tKeyword},
	{"event.reason", tKeyword},
	{"event.severity", tLong},
	{"event.risk_score", tFloat},
	{"event.risk_score_norm", tFloat},
	{"event.sequence", tLong},
	{"event.duration", tLong},
	{"event.start", tDate},
	{"event.end", tDate},
	{"event.created", tDate},
	{"event.ingested", tDate},
	{"event.original", tStored},
	{"event.hash", tKeyword},

	{"host.name", tKeyword},
	{"host.hostname", tKeyword},
	{"host.id", tKeyword},
	{"host.ip", tIP},
	{"host.mac", tKeyword},
	{"host.domain", tKeyword},
	{"host.architecture", tKeyword},
	{"host.type", tKeyword},
	{"host.os.type", tKeyword},
	{"host.os.family", tKeyword},
	{"host.os.name", tKeyword},
	{"host.os.version", tKeyword},
	{"host.os.platform", tKeyword},
	{"host.os.kernel", tKeyword},
	{"host.os.full", tKeyword},

	{"process.pid", tLong},
	{"process.name", tKeyword},
	{"process.executable", tKeyword},
	{"process.args", tKeyword},
	{"process.args_count", tLong},
	{"process.command_line", tKeyword},
	{"process.working_directory", tKeyword},
	{"process.title", tKeyword},
	{"process.entity_id", tKeyword},
	{"process.start", tDate},
	{"process.end", tDate},
	{"process.exit_code", tLong},
	{"process.hash.sha256", tKeyword},
	{"process.hash.sha1", tKeyword},
	{"process.hash.md5", tKeyword},
	{"process.parent.pid", tLong},
	{"process.parent.name", tKeyword},
	{"process.parent.executable", tKeyword},
	{"process.parent.args", tKeyword},
	{"process.parent.command_line", tKeyword},
	{"process.parent.entity_id", tKeyword},
	{"process.parent.hash.sha256", tKeyword},
	{"process.parent.start", tDate},
	// The session, group and entry leaders the host receiver writes, with
	// ECS's types: their start is a date (a dynamic mapping would make the
	// string a keyword), pid a long, same_as_process a boolean.
	{"process.session_leader.pid", tLong},
	{"process.session_leader.entity_id", tKeyword},
	{"process.session_leader.start", tDate},
	{"process.session_leader.name", tKeyword},
	{"process.session_leader.executable", tKeyword},
	{"process.session_leader.same_as_process", tBool},
	{"process.group_leader.pid", tLong},
	{"process.group_leader.entity_id", tKeyword},
	{"process.group_leader.start", tDate},
	{"process.group_leader.name", tKeyword},
	{"process.group_leader.executable", tKeyword},
	{"process.group_leader.same_as_process", tBool},
	{"process.entry_leader.pid", tLong},
	{"process.entry_leader.entity_id", tKeyword},
	{"process.entry_leader.start", tDate},
	{"process.entry_leader.name", tKeyword},
	{"process.entry_leader.executable", tKeyword},
	{"process.entry_leader.same_as_process", tBool},
	{"process.entry_leader.entry_meta.type", tKeyword},
	{"process.entry_leader.entry_meta.source.ip", tIP},
	{"process.tty.char_device.major", tLong},
	{"process.tty.char_device.minor", tLong},
	{"process.user.id", tKeyword},
	{"process.user.name", tKeyword},
	{"process.group.id", tKeyword},
	{"process.group.name", tKeyword},

	{"user.id", tKeyword},
	{"user.name", tKeyword},
	{"user.domain", tKeyword},
	{"user.email", tKeyword},
	{"user.full_name", tKeyword},
	{"user.roles", tKeyword},
	{"user.group.id", tKeyword},
	{"user.group.name", tKeyword},

	{"source.ip", tIP},
	{"source.port", tLong},
	{"source.address", tKeyword},
	{"source.domain", tKeyword},
	{"source.mac", tKeyword},
	{"source.bytes", tLong},
	{"source.packets", tLong},
	{"destination.ip", tIP},
	{"destination.port", tLong},
	{"destination.address", tKeyword},
	{"destination.domain", tKeyword},
	{"destination.mac", tKeyword},
	{"destination.bytes", tLong},
	{"destination.packets", tLong},
	// OpenTelemetry's client.*/server.* attributes, which Cairn reads as
	// aliases of source.*/destination.*, stay in the documents as they
	// came; ECS types them the same way.
	{"client.ip", tIP},
	{"client.port", tLong},
	{"client.address", tKeyword},
	{"server.ip", tIP},
	{"server.port", tLong},
	{"server.address", tKeyword},
	// The remaining ECS fields of type ip (every one is mapped ip, so that
	// a document carrying one is searchable by address and CIDR whatever
	// wrote it; ecs_test.go checks the list against ECS).
	{"client.nat.ip", tIP},
	{"server.nat.ip", tIP},
	{"source.nat.ip", tIP},
	{"destination.nat.ip", tIP},
	{"host.target.ip", tIP},
	{"network.forwarded_ip", tIP},
	{"observer.ip", tIP},
	{"orchestrator.resource.ip", tIP},
	{"threat.indicator.ip", tIP},

	{"network.transport", tKeyword},
	{"network.protocol", tKeyword},
	{"network.direction", tKeyword},
	{"network.type", tKeyword},
	{"network.application", tKeyword},
	{"network.community_id", tKeyword},
	{"network.bytes", tLong},
	{"network.packets", tLong},

	{"dns.id", tKeyword},
	{"dns.type", tKeyword},
	{"dns.op_code", tKeyword},
	{"dns.response_code", tKeyword},
	{"dns.question.name", tKeyword},
	{"dns.question.type", tKeyword},
	{"dns.question.class", tKeyword},
	{"dns.question.registered_domain", tKeyword},
	{"dns.resolved_ip", tIP},
	{"dns.answers.name", tKeyword},
	{"dns.answers.type", tKeyword},
	{"dns.answers.class", tKeyword},
	{"dns.answers.data", tKeyword},
	{"dns.answers.ttl", tLong},

	{"url.full", tKeyword},
	{"url.original", tKeyword},
	{"url.domain", tKeyword},
	{"url.path", tKeyword},
	{"url.scheme", tKeyword},
	{"url.port", tLong},

	{"file.path", tKeyword},
	{"file.name", tKeyword},
	{"file.directory", tKeyword},
	{"file.extension", tKeyword},
	{"file.size", tLong},
	{"file.hash.sha256", tKeyword},
	{"file.hash.sha1", tKeyword},
	{"file.hash.md5", tKeyword},

	{"related.hosts", tKeyword},
	{"related.ip", tIP},
	{"related.hash", tKeyword},
	{"related.user", tKeyword},

	{"rule.id", tKeyword},
	{"rule.uuid", tKeyword},
	{"rule.name", tKeyword},
	{"rule.description", tKeyword},
	{"rule.category", tKeyword},
	{"rule.ruleset", tKeyword},
	{"rule.version", tKeyword},
	{"rule.reference", tKeyword},

	{"threat.framework", tKeyword},
	{"threat.tactic.id", tKeyword},
	{"threat.tactic.name", tKeyword},
	{"threat.tactic.reference", tKeyword},
	{"threat.technique.id", tKeyword},
	{"threat.technique.name", tKeyword},
	{"threat.technique.reference", tKeyword},
	{"threat.technique.subtechnique.id", tKeyword},
	{"threat.technique.subtechnique.name", tKeyword},
	{"threat.enrichments.indicator.type", tKeyword},
	{"threat.enrichments.indicator.name", tKeyword},
	{"threat.enrichments.indicator.description", tKeyword},
	{"threat.enrichments.indicator.provider", tKeyword},
	{"threat.enrichments.indicator.confidence", tKeyword},
	{"threat.enrichments.indicator.reference", tKeyword},
	{"threat.enrichments.indicator.first_seen", tDate},
	{"threat.enrichments.indicator.last_seen", tDate},
	{"threat.enrichments.indicator.ip", tIP},
	{"threat.enrichments.indicator.port", tLong},
	{"threat.enrichments.indicator.file.hash.sha256", tKeyword},
	{"threat.enrichments.indicator.file.hash.sha1", tKeyword},
	{"threat.enrichments.indicator.file.hash.md5", tKeyword},
	{"threat.enrichments.indicator.url.domain", tKeyword},
	{"threat.enrichments.indicator.url.full", tKeyword},
	{"threat.enrichments.matched.atomic", tKeyword},
	{"threat.enrichments.matched.field", tKeyword},
	{"threat.enrichments.matched.type", tKeyword},
	{"threat.enrichments.matched.id", tKeyword},
	{"threat.enrichments.matched.index", tKeyword},
	{"threat.enrichments.matched.occurred", tDate},
	{"threat.enrichments.cairn.intel.verdict", tKeyword},

	{"error.message", tText},
	{"error.type", tKeyword},
	{"error.code", tKeyword},

	{"cairn.signals", tKeyword},
	{"cairn.signal_details.signal", tKeyword},
	{"cairn.signal_details.key", tKeyword},
	{"cairn.signal_details.label", tText},
	{"cairn.signal_details.tactics", tKeyword},
	{"cairn.signal_details.techniques", tKeyword},
	{"cairn.alert.ids", tKeyword},
	{"cairn.alert.score", tFloat},
	{"cairn.alert.severity", tKeyword},
	{"cairn.alert.signals", tKeyword},
	{"cairn.alert.contributions.signal", tKeyword},
	{"cairn.alert.contributions.weight", tFloat},
	{"cairn.alert.contributions.event.id", tKeyword},
	{"cairn.alert.contributions.time", tDate},
	{"cairn.alert.contributions.summary", tText},
	{"cairn.alert.omitted_contributions", tLong},
	{"cairn.alert.omitted_enrichments", tLong},
	{"cairn.first_seen.degraded", tBool},
	// cairn_host's own fields (receiver/hostreceiver/README.md).
	{"cairn.process.partial", tBool},
	{"cairn.process.missing", tKeyword},
	{"cairn.process.exe_deleted", tBool},
	{"cairn.process.exe_memfd", tBool},
	{"cairn.process.hash_status", tKeyword},
	{"cairn.process.args_truncated", tBool},
	{"cairn.process.exit_signal", tLong},
	{"cairn.process.core_dumped", tBool},
	{"cairn.network.unattributed", tBool},
	// The default trackers' flags; other trackers' flags are booleans by
	// the dynamic template.
	{"cairn.first_seen.new_binary_on_host", tBool},
	{"cairn.first_seen.new_binary_in_environment", tBool},
	{"cairn.first_seen.new_external_ip", tBool},
	{"cairn.first_seen.new_domain", tBool},
	{"cairn.first_seen.new_ip_for_binary", tBool},
}

// DLQFields are the fields of a dead-letter document, besides @timestamp,
// data_stream.*, event.kind, event.original and error.*.
var DLQFields = []Field{
	{"cairn.dlq.index", tKeyword},
	{"cairn.dlq.id", tKeyword},
	{"cairn.dlq.action", tKeyword},
	{"cairn.dlq.status", tLong},
	{"cairn.dlq.truncated", tBool},
	{"cairn.dlq.original_bytes", tLong},
}

// Lookup returns the type of a mapped path ("" when not mapped).
func Lookup(path string) string {
	for _, list := range [][]Field{Fields, DLQFields} {
		for _, f := range list {
			if f.Path == path {
				return f.Type
			}
		}
	}
	for _, n := range Nested {
		if path == n {
			return tNested
		}
	}
	if strings.HasPrefix(path, "cairn.first_seen.") {
		return tBool
	}
	return ""
}
