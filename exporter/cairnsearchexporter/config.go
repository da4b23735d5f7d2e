package cairnsearchexporter

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// Flavours of search server.
const (
	FlavourAuto          = "auto"
	FlavourElasticsearch = "elasticsearch"
	FlavourOpenSearch    = "opensearch"
)

// Config is the configuration of the cairn_search exporter.
type Config struct {
	// HTTP client: endpoint, tls, proxy_url, headers, timeout, compression,
	// auth (any collector authenticator extension) and the rest of
	// confighttp's client options.
	confighttp.ClientConfig `mapstructure:",squash"`

	// Flavour of the server: auto (GET / at start), elasticsearch or
	// opensearch.
	Flavour string `mapstructure:"flavour"`

	// Built-in credentials, as an alternative to an auth extension; at most
	// one of user/password, api_key and bearer_token.
	User        string              `mapstructure:"user"`
	Password    configopaque.String `mapstructure:"password"`
	APIKey      configopaque.String `mapstructure:"api_key"`
	BearerToken configopaque.String `mapstructure:"bearer_token"`

	// Namespace of the data streams (logs-cairn.events-<namespace> ...).
	Namespace string `mapstructure:"namespace"`
	// Index, when set, receives every event instead of the data stream
	// (and every alert unless AlertsIndex is set).
	Index string `mapstructure:"index"`
	// AlertsIndex, when set, receives every alert; it must accept in-place
	// updates (an index or an alias, not a data stream).
	AlertsIndex string `mapstructure:"alerts_index"`

	// Bootstrap installs Cairn's templates and lifecycle policy at start.
	Bootstrap bool `mapstructure:"bootstrap"`
	// Lifecycle is the rollover/retention policy that bootstrap creates.
	Lifecycle LifecycleConfig `mapstructure:"lifecycle"`

	// DeadLetter configures where refused documents go.
	DeadLetter DeadLetterConfig `mapstructure:"dead_letter"`

	// MaxRequestBytes caps the uncompressed size of one _bulk body; a larger
	// batch is sent as several requests.
	MaxRequestBytes int `mapstructure:"max_request_bytes"`

	// Offline, when its directory is set, writes the _bulk bodies to local
	// files instead of sending them (no endpoint then).
	Offline OfflineConfig `mapstructure:"offline"`

	// Spool, when its directory is set, makes online delivery durable:
	// each batch is appended (encoded once) to local segment files and
	// sent from there in the background. Without it, a batch is delivered
	// synchronously: ConsumeLogs returns once the cluster has every item.
	Spool SpoolConfig `mapstructure:"spool"`

	// QueueBatchConfig is exporterhelper's sending_queue, off by default:
	// the spool replaces its persistent form without encoding each batch
	// a second time (pdata to protobuf).
	QueueBatchConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	BackOffConfig    configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`

	_ struct{}
}

// LifecycleConfig is the ILM (Elasticsearch) or ISM (OpenSearch) policy of
// the events and dead-letter data streams, and the optional one of the
// alerts indices.
type LifecycleConfig struct {
	// PolicyName of the policy; an existing policy of that name is kept
	// as it is (so that edits made in Kibana survive a restart).
	PolicyName string `mapstructure:"policy_name"`
	// RolloverMaxAge and RolloverMaxSize start a new backing index.
	RolloverMaxAge  string `mapstructure:"rollover_max_age"`
	RolloverMaxSize string `mapstructure:"rollover_max_size"`
	// DeleteAfter deletes a backing index this long after its rollover;
	// empty keeps data forever.
	DeleteAfter string `mapstructure:"delete_after"`
	// AlertsDeleteAfter, when set, adds the policy <policy_name>-alerts:
	// an alerts index (one per namespace, never rolled over since alerts
	// are updated in place) is deleted whole this long after its creation,
	// and the next alert starts a new one. Empty keeps alerts forever.
	AlertsDeleteAfter string `mapstructure:"alerts_delete_after"`

	_ struct{}
}

// DeadLetterConfig configures the dead-letter data stream.
type DeadLetterConfig struct {
	// Enabled writes refused documents to logs-<dataset>-<namespace>.
	Enabled bool `mapstructure:"enabled"`
	// Dataset of the dead-letter data stream.
	Dataset string `mapstructure:"dataset"`
	// MaxDocumentBytes caps the original document kept as text; longer
	// ones are cut (and flagged cairn.dlq.truncated).
	MaxDocumentBytes int `mapstructure:"max_document_bytes"`

	_ struct{}
}

// OfflineConfig configures offline mode.
type OfflineConfig struct {
	// Directory of the _bulk files; empty means online mode.
	Directory string `mapstructure:"directory"`
	// MaxFileBytes starts a new file once the current one is this large.
	MaxFileBytes int64 `mapstructure:"max_file_bytes"`
	// MaxFiles keeps at most this many files, deleting the oldest; 0 keeps all.
	MaxFiles int `mapstructure:"max_files"`
	// Sync is SyncNone (a batch is written to the file, i.e. to the page
	// cache, before ConsumeLogs returns: a process kill loses nothing) or
	// SyncBatch (also fsync'ed: a power loss loses nothing acknowledged).
	Sync string `mapstructure:"sync"`

	_ struct{}
}

// SpoolConfig configures the spool of online mode.
type SpoolConfig struct {
	// Directory of the spool's segment files; empty: no spool, synchronous
	// delivery.
	Directory string `mapstructure:"directory"`
	// MaxBytes bounds the segment files; when they are full, ConsumeLogs
	// waits for space until its context ends.
	MaxBytes int64 `mapstructure:"max_bytes"`
	// Sync is SyncNone or SyncBatch, as for offline files.
	Sync string `mapstructure:"sync"`
	// Senders is the number of batches sent at a time.
	Senders int `mapstructure:"senders"`

	_ struct{}
}

// Values of offline::sync and spool::sync.
const (
	SyncNone  = "none"
	SyncBatch = "batch"
)

const (
	defaultNamespace       = "default"
	defaultMaxRequestBytes = 8 << 20
	defaultDLQDataset      = "cairn.dlq"
	defaultDLQMaxDoc       = 1 << 20
	defaultMaxFileBytes    = 64 << 20
	defaultPolicy          = "cairn"
	defaultTimeout         = 90 * time.Second
	defaultSpoolMaxBytes   = 1 << 30
	defaultSpoolSenders    = 4
	minSpoolMaxBytes       = 1 << 20

	// maxConsumers bounds spool::senders and sending_queue::num_consumers:
	// each is a goroutine and a concurrent _bulk request.
	maxConsumers = 1024
	// maxMultiplier bounds retry_on_failure::multiplier.
	maxMultiplier = 100
)

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; every error names the option.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	offline := c.Offline.Directory != ""
	switch {
	case offline && c.Endpoint != "":
		add("set either endpoint (send to a server) or offline::directory (write _bulk files), not both")
	case !offline && c.Endpoint == "":
		add("endpoint must be set (e.g. https://localhost:9200), or offline::directory for offline mode")
	case !offline && !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://"):
		add("endpoint %q must start with http:// or https://", c.Endpoint)
	}
	switch c.Flavour {
	case FlavourAuto, FlavourElasticsearch, FlavourOpenSearch:
	default:
		add("flavour %q must be one of auto, elasticsearch, opensearch", c.Flavour)
	}
	creds := 0
	if c.User != "" || c.Password != "" {
		creds++
		if c.User == "" {
			add("password is set but user is not")
		}
	}
	if c.APIKey != "" {
		creds++
	}
	if c.BearerToken != "" {
		creds++
	}
	if c.Auth.HasValue() {
		creds++
	}
	if creds > 1 {
		add("set at most one of user/password, api_key, bearer_token and auth")
	}
	if c.Namespace == "" {
		add("namespace must not be empty")
	} else if s := sanitizeDSPart(c.Namespace); s != c.Namespace {
		add("namespace %q is not a valid data stream namespace (lowercase, no '-', spaces or \\/*?\"<>|,#:; e.g. %q)", c.Namespace, s)
	}
	for name, v := range map[string]string{"index": c.Index, "alerts_index": c.AlertsIndex} {
		if v != "" && !validIndexName(v) {
			add("%s %q is not a valid index name (lowercase, not starting with -, _ or +, none of \\/*?\"<>|,# or spaces)", name, v)
		}
	}
	if c.MaxRequestBytes < 4096 {
		add("max_request_bytes must be at least 4096, got %d", c.MaxRequestBytes)
	}
	if c.DeadLetter.Enabled {
		if s := sanitizeDSPart(c.DeadLetter.Dataset); c.DeadLetter.Dataset == "" || s != c.DeadLetter.Dataset {
			add("dead_letter::dataset %q is not a valid data stream dataset", c.DeadLetter.Dataset)
		}
		if c.DeadLetter.MaxDocumentBytes < 256 {
			add("dead_letter::max_document_bytes must be at least 256, got %d", c.DeadLetter.MaxDocumentBytes)
		}
	}
	if c.Lifecycle.PolicyName == "" && c.Bootstrap {
		add("lifecycle::policy_name must not be empty when bootstrap is on")
	}
	for name, v := range map[string]string{"lifecycle::rollover_max_age": c.Lifecycle.RolloverMaxAge, "lifecycle::delete_after": c.Lifecycle.DeleteAfter} {
		if v != "" && !validTimeUnit(v) {
			add("%s %q must be a number with a unit of d, h, m or s (e.g. 30d)", name, v)
		}
	}
	if v := c.Lifecycle.AlertsDeleteAfter; v != "" && (!validTimeUnit(v) || strings.Trim(v, "0dhms") == "") {
		// Zero would delete each alerts index as soon as it is created.
		add("lifecycle::alerts_delete_after %q must be a number above zero with a unit of d, h, m or s (e.g. 365d), or empty to keep alerts forever", v)
	}
	if v := c.Lifecycle.RolloverMaxSize; v != "" && !validByteUnit(v) {
		add("lifecycle::rollover_max_size %q must be a number with a unit of b, kb, mb, gb or tb (e.g. 50gb)", v)
	}
	if c.Lifecycle.RolloverMaxAge == "" && c.Lifecycle.RolloverMaxSize == "" && c.Bootstrap {
		add("lifecycle: set rollover_max_age or rollover_max_size (or both)")
	}
	if offline {
		if c.Offline.MaxFileBytes < 1<<16 {
			add("offline::max_file_bytes must be at least 65536, got %d", c.Offline.MaxFileBytes)
		}
		if c.Offline.MaxFiles < 0 {
			add("offline::max_files must not be negative, got %d", c.Offline.MaxFiles)
		}
	}
	if q := c.QueueBatchConfig.Get(); q != nil && q.StorageID != nil && q.WaitForResult {
		add("sending_queue: wait_for_result cannot be used with storage")
	}
	if q := c.QueueBatchConfig.Get(); q != nil && q.NumConsumers > maxConsumers {
		// One goroutine each, started with the exporter.
		add("sending_queue::num_consumers must be at most %d, got %d", maxConsumers, q.NumConsumers)
	}
	// The backoff grows the interval by the multiplier in floating point:
	// NaN, infinite or huge multipliers overflowed the next interval into
	// a negative one, i.e. retries without any pause.
	if m := c.BackOffConfig.Multiplier; math.IsNaN(m) || m < 0 || m > maxMultiplier {
		add("retry_on_failure::multiplier must be from 0 to %g, got %g", float64(maxMultiplier), m)
	}
	if rf := c.BackOffConfig.RandomizationFactor; !(rf >= 0 && rf <= 1) {
		add("retry_on_failure::randomization_factor must be from 0 to 1, got %g", rf)
	}
	c.validateDelivery(add)
	return errors.Join(errs...)
}

// validateDelivery checks the offline, spool and compression options.
func (c *Config) validateDelivery(add func(string, ...any)) {
	offline := c.Offline.Directory != ""
	for name, v := range map[string]string{"offline::sync": c.Offline.Sync, "spool::sync": c.Spool.Sync} {
		if v != "" && v != SyncNone && v != SyncBatch { // "": none
			add("%s %q must be none or batch", name, v)
		}
	}
	if c.Spool.Directory != "" {
		if offline {
			add("spool::directory is for online mode: offline::directory already writes every batch to a file before acknowledging it")
		}
		if c.Spool.MaxBytes < minSpoolMaxBytes {
			add("spool::max_bytes must be at least %d, got %d", minSpoolMaxBytes, c.Spool.MaxBytes)
		}
		if c.Spool.Senders < 1 || c.Spool.Senders > maxConsumers {
			add("spool::senders must be from 1 to %d, got %d", maxConsumers, c.Spool.Senders)
		}
		if q := c.QueueBatchConfig.Get(); q != nil && q.StorageID != nil {
			// Both would keep every batch on disk, the queue after a
			// second encoding: the spool replaces the persistent queue.
			add("use either spool (durable, encoded once) or a persistent sending_queue (storage), not both; remove sending_queue")
		}
	}
	switch c.Compression {
	case "", "none", "gzip", "deflate":
	default:
		// The exporter compresses request bodies itself (and never a
		// request without a body); both products decode these two.
		add("compression %q: Elasticsearch and OpenSearch accept gzip or deflate request bodies (or none)", c.Compression)
	}
}

func validTimeUnit(s string) bool { return unitNumber(s, "d", "h", "m", "s") }

func validByteUnit(s string) bool { return unitNumber(s, "tb", "gb", "mb", "kb", "b") }

func unitNumber(s string, units ...string) bool {
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u); ok && n != "" && strings.Trim(n, "0123456789") == "" {
			return true
		}
	}
	return false
}

// validIndexName follows the index naming rules both products share.
func validIndexName(s string) bool {
	if s == "" || len(s) > 255 || s == "." || s == ".." || strings.ContainsAny(s[:1], "-_+") {
		return false
	}
	if strings.ContainsAny(s, "\\/*?\"<>| ,#:") || strings.ToLower(s) != s {
		return false
	}
	return true
}
