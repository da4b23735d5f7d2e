package event

// The names Cairn writes on the wire: signal names (the values of
// cairn.signals) and the cairn.* fields of events and alerts. They are
// Cairn's interface — correlation rules, dashboards, the detection rule and
// users' own queries refer to them — so they live here, once, and the
// processors use these constants instead of spelling them. Changing one
// is a breaking change for every stored document and every query.
//
// cairn.signals itself is SignalsKey, declared with the Signals field.

// Signal names raised by Cairn's own processors. The first-seen ones are the
// names of firstseen's default trackers (a tracker's name is its signal), the
// intel ones the verdicts of the intel processor; correlate's default signal
// catalog weighs each of them.
const (
	// SignalNewBinaryOnHost: a binary (by hash, else path) never run on
	// this host before.
	SignalNewBinaryOnHost = "new_binary_on_host"
	// SignalNewBinaryInEnvironment: a binary never run anywhere in the
	// environment (the fleet a collector or a shared store sees).
	SignalNewBinaryInEnvironment = "new_binary_in_environment"
	// SignalNewExternalIP: an external destination address nobody in the
	// environment reached before.
	SignalNewExternalIP = "new_external_ip"
	// SignalNewDomain: a domain nobody in the environment looked up or
	// reached before.
	SignalNewDomain = "new_domain"
	// SignalNewIPForBinary: an external address this binary never reached
	// before, anywhere in the environment.
	SignalNewIPForBinary = "new_ip_for_binary"

	// Rare variants of the environment trackers: the term is known, but
	// from few hosts (firstseen's prevalence options), which is still
	// evidence on the next one: the second and third host a worm reaches.
	SignalRareBinaryInEnvironment = "rare_binary_in_environment"
	SignalRareExternalIP          = "rare_external_ip"
	SignalRareDomain              = "rare_domain"
	SignalRareIPForBinary         = "rare_ip_for_binary"

	// SignalIntelMaliciousHash: a binary hash a threat feed calls malicious.
	SignalIntelMaliciousHash = "intel_malicious_hash"
	// SignalIntelSuspiciousHash: a binary hash a feed calls suspicious.
	SignalIntelSuspiciousHash = "intel_suspicious_hash"
	// SignalIntelBadIP: a destination IP on a threat feed.
	SignalIntelBadIP = "intel_bad_ip"
	// SignalIntelBadDomain: a domain on a threat feed.
	SignalIntelBadDomain = "intel_bad_domain"
)

// FirstSeenPrefix starts the flag a firstseen tracker sets on the events it
// flags: cairn.first_seen.<tracker> (see FirstSeenFlag).
const FirstSeenPrefix = "cairn.first_seen."

// FirstSeenFlag is the boolean field a tracker named tracker sets on an
// event it flags, e.g. cairn.first_seen.new_binary_on_host.
func FirstSeenFlag(tracker string) string { return FirstSeenPrefix + tracker }

// FirstSeenDegradedKey marks an event whose verdict of a tracker with a
// shared store (Redis) was decided locally because the store did not
// answer in time.
const FirstSeenDegradedKey = "cairn.first_seen.degraded"

// Fields of correlate's alerts and of the events they are built from.
const (
	// AlertIDsKey lists, on a contributing event, the event.id of every
	// alert it is part of.
	AlertIDsKey = "cairn.alert.ids"
	// AlertScoreKey is an alert's weighted score.
	AlertScoreKey = "cairn.alert.score"
	// AlertSeverityKey is an alert's severity by name: low, medium, high,
	// critical (event.severity has the same as a number).
	AlertSeverityKey = "cairn.alert.severity"
	// AlertSignalsKey lists the distinct signals an alert counted.
	AlertSignalsKey = "cairn.alert.signals"
	// AlertContributionsKey is the array of an alert's contributions, one
	// object per contributing signal, with the members below.
	AlertContributionsKey = "cairn.alert.contributions"
	// AlertOmittedContributionsKey counts contributions beyond the
	// processor's max_contributions (still counted in the score).
	AlertOmittedContributionsKey = "cairn.alert.omitted_contributions"
	// AlertOmittedEnrichmentsKey counts threat.enrichments of contributing
	// events that the alert does not carry: correlate keeps at most a few
	// per event (see its README).
	AlertOmittedEnrichmentsKey = "cairn.alert.omitted_enrichments"
)

// Members of one cairn.alert.contributions object, relative to it.
const (
	// ContributionSignal is the signal's name.
	ContributionSignal = "signal"
	// ContributionWeight is what the signal added to the score.
	ContributionWeight = "weight"
	// ContributionEventID is the event.id of the contributing event.
	ContributionEventID = "event.id"
	// ContributionTime is the contributing event's time (RFC 3339).
	ContributionTime = "time"
	// ContributionSummary is one phrase on the contributing event.
	ContributionSummary = "summary"
)

// EnrichmentVerdictKey is, inside one threat.enrichments object, the intel
// processor's verdict: malicious or suspicious (so the full field is
// threat.enrichments.cairn.intel.verdict). ECS has no verdict field; the
// confidence is in indicator.confidence.
const EnrichmentVerdictKey = "cairn.intel.verdict"

// event.module and event.dataset of the records Cairn makes itself. ECS
// recommends a dataset that starts with the module's name, and the
// data_stream.dataset the cairn_search exporter routes alerts to is the
// same as AlertsDataset.
const (
	// Module is event.module of Cairn's own records (and of the bundled
	// scenario's events).
	Module = "cairn"
	// AlertsDataset is event.dataset of correlate's alert records.
	AlertsDataset = "cairn.alerts"
)

// Fields the cairn_host receiver adds to the events it makes
// (receiver/hostreceiver/README.md).
const (
	// ProcessPartialKey: the process was gone, or not readable, before
	// all its details were read; ProcessMissingKey lists what is missing.
	ProcessPartialKey = "cairn.process.partial"
	ProcessMissingKey = "cairn.process.missing"
	// ProcessExeDeletedKey: the executable was deleted after it started.
	ProcessExeDeletedKey = "cairn.process.exe_deleted"
	// ProcessExeMemfdKey: the executable is an anonymous memory file.
	ProcessExeMemfdKey = "cairn.process.exe_memfd"
	// ProcessHashStatusKey says why an executable has no hash.
	ProcessHashStatusKey = "cairn.process.hash_status"
	// ProcessArgsTruncatedKey: the arguments were cut.
	ProcessArgsTruncatedKey = "cairn.process.args_truncated"
	// ProcessExitSignalKey is the signal a process was killed by, and
	// ProcessCoreDumpedKey whether it dumped core (on end events).
	ProcessExitSignalKey = "cairn.process.exit_signal"
	ProcessCoreDumpedKey = "cairn.process.core_dumped"
	// NetworkUnattributedKey: a connection no process could be found for.
	NetworkUnattributedKey = "cairn.network.unattributed"
)

// Signals of Sigma rule matches (the sigma processor): one per rule level.
const (
	SignalSigmaLow      = "sigma_low"
	SignalSigmaMedium   = "sigma_medium"
	SignalSigmaHigh     = "sigma_high"
	SignalSigmaCritical = "sigma_critical"
)

// Signals of Falco alerts (internal/normalize's falco format): one per
// Falco priority that raises one (emergency and alert count as critical;
// informational and debug raise none).
const (
	SignalFalcoNotice   = "falco_notice"
	SignalFalcoWarning  = "falco_warning"
	SignalFalcoError    = "falco_error"
	SignalFalcoCritical = "falco_critical"
)

// TimeSkewedKey marks an event dated further ahead of the collector's clock
// than the processors tolerate (see SkewedTime): its time is not trusted,
// and its receipt time is used for windows and learning instead.
const TimeSkewedKey = "cairn.time.skewed"
