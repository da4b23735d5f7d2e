package hostreceiver

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Config is the cairn_host receiver's configuration.
type Config struct {
	// Processes: process starts and ends from the kernel proc connector.
	Processes ProcessesConfig `mapstructure:"processes"`
	// Hashing: SHA-256 of executables, off the event path.
	Hashing HashingConfig `mapstructure:"hashing"`
	// Connections: outbound connections polled through sock_diag.
	Connections ConnectionsConfig `mapstructure:"connections"`
	// DNS: passive capture of DNS answers.
	DNS DNSConfig `mapstructure:"dns"`
	// Audit: events from an audit log file written by auditd, or from the
	// kernel's audit multicast group.
	Audit AuditConfig `mapstructure:"audit"`
	// Inventory: at start, one event.type "info" event per running process
	// and open connection.
	Inventory bool `mapstructure:"inventory"`
	// ExcludeExecutables: process and connection events of executables
	// matching one of these globs ('*' spans '/') are not emitted. The
	// receiver's own process is always left out.
	ExcludeExecutables []string `mapstructure:"exclude_executables"`
	// HostName overrides the host name put on the resource (default: the
	// kernel's host name).
	HostName string `mapstructure:"host_name"`
	// FlushInterval: events are handed to the pipeline at least this often.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// MaxBatchSize: at most this many events per batch.
	MaxBatchSize int `mapstructure:"max_batch_size"`
	// QueueSize bounds the events waiting to be batched; beyond it events
	// are dropped (counted) rather than slowing the kernel readers.
	QueueSize int `mapstructure:"queue_size"`

	_ struct{}
}

// ProcessesConfig configures process events.
type ProcessesConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// ExitEvents: an end event (process.exit_code, process.end) for every
	// process whose start (or inventory) event was emitted.
	ExitEvents bool `mapstructure:"exit_events"`
	// MaxArgs is the most argv entries kept in process.args.
	MaxArgs int `mapstructure:"max_args"`
	// MaxArgBytes bounds the bytes of argv read.
	MaxArgBytes int `mapstructure:"max_arg_bytes"`

	_ struct{}
}

// HashingConfig configures executable hashing.
type HashingConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// MaxFileSize: executables of a larger apparent size are not hashed
	// (hash_status too_large).
	MaxFileSize int64 `mapstructure:"max_file_size"`
	// MaxHoleBytes: executables with more bytes of holes (a sparse file's
	// unwritten ranges) are not hashed (hash_status sparse).
	MaxHoleBytes int64 `mapstructure:"max_hole_bytes"`
	// BytesPerSecond is the budget of bytes hashed, charged by the bytes
	// actually read and shared fairly between files and their owners; 0 is
	// unlimited.
	BytesPerSecond int64 `mapstructure:"bytes_per_second"`
	// CacheSize is the number of sums kept, keyed by device, inode, size,
	// modification time and status change time.
	CacheSize int `mapstructure:"cache_size"`
	// Workers hash in parallel.
	Workers int `mapstructure:"workers"`
	// QueueSize bounds the distinct files waiting to be hashed.
	QueueSize int `mapstructure:"queue_size"`
	// Wait is how long an event may wait for its hash; after that it is
	// emitted without (cairn.process.hash_status: timeout).
	Wait time.Duration `mapstructure:"wait"`

	_ struct{}
}

// ConnectionsConfig configures connection events.
type ConnectionsConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Interval between two sock_diag polls. A connection opened and closed
	// between two polls is not seen.
	Interval time.Duration `mapstructure:"interval"`
	// Protocols: tcp, udp (connected UDP sockets).
	Protocols []string `mapstructure:"protocols"`
	// IncludeInbound also reports connections accepted by a local listener
	// (network.direction: ingress).
	IncludeInbound bool `mapstructure:"include_inbound"`
	// IncludeLoopback also reports connections to loopback addresses.
	IncludeLoopback bool `mapstructure:"include_loopback"`

	_ struct{}
}

// DNSConfig configures the DNS answer sniffer.
type DNSConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Interfaces to capture on; empty: all.
	Interfaces []string `mapstructure:"interfaces"`
	// CacheSize bounds the IP → domain entries used for destination.domain.
	CacheSize int `mapstructure:"cache_size"`
	// MinTTL: an answer is remembered at least this long, whatever its TTL
	// (programs keep resolved addresses longer than the TTL).
	MinTTL time.Duration `mapstructure:"min_ttl"`
	// MaxTTL: and at most this long.
	MaxTTL time.Duration `mapstructure:"max_ttl"`
	// MaxPendingQueries bounds the queries this host sent that await their
	// answer (the oldest are forgotten first).
	MaxPendingQueries int `mapstructure:"max_pending_queries"`
	// QueryTimeout: an answer is taken only for a query sent at most this
	// long before it.
	QueryTimeout time.Duration `mapstructure:"query_timeout"`

	_ struct{}
}

// AuditConfig configures the audit log source.
type AuditConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Source: "file" (the log auditd writes) or "netlink" (the kernel's
	// read-only audit multicast group, AUDIT_NLGRP_READLOG).
	Source string `mapstructure:"source"`
	// LogFile is the audit log auditd writes (source file).
	LogFile string `mapstructure:"log_file"`
	// StartAt: "end" (only new records) or "beginning".
	StartAt string `mapstructure:"start_at"`
	// PollInterval: how often the file is checked for new records.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// ReassemblyTimeout: records of one event that arrive further apart
	// than this are given up waiting for.
	ReassemblyTimeout time.Duration `mapstructure:"reassembly_timeout"`
	// NodeNames are the node= names of this host's records in the log
	// (auditd's name_format); lines with another node= are other hosts'
	// and left out. Empty: the host name, its first label, or the host
	// name followed by a domain; lines without node= are always this
	// host's.
	NodeNames []string `mapstructure:"node_names"`

	_ struct{}
}

// Audit sources.
const (
	auditSourceFile    = "file"
	auditSourceNetlink = "netlink"
)

// Upper bounds of the sizes the receiver allocates from.
const (
	maxQueueSize = 1 << 20 // events: the queue is preallocated
	maxArgs      = 1 << 16
	maxArgBytes  = 4 << 20 // Linux's ARG_MAX is 2 MiB with the default 8 MiB stack
	maxWorkers   = 256
)

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.FlushInterval <= 0 {
		errs = append(errs, errors.New("flush_interval must be positive"))
	}
	// Sizes the receiver allocates from (the event queue is a channel of
	// queue_size slots, argv is read into a max_arg_bytes buffer per
	// process, each hashing worker is a goroutine) are bounded: beyond the
	// bounds a start would panic or take gigabytes.
	for _, o := range []struct {
		name   string
		v, max int
	}{
		{"max_batch_size", c.MaxBatchSize, maxQueueSize},
		{"queue_size", c.QueueSize, maxQueueSize},
		{"processes: max_args", c.Processes.MaxArgs, maxArgs},
		{"processes: max_arg_bytes", c.Processes.MaxArgBytes, maxArgBytes},
		{"hashing: workers", c.Hashing.Workers, maxWorkers},
	} {
		if o.v > o.max {
			errs = append(errs, fmt.Errorf("%s must be at most %d, got %d", o.name, o.max, o.v))
		}
	}
	if c.MaxBatchSize <= 0 {
		errs = append(errs, errors.New("max_batch_size must be positive"))
	}
	if c.QueueSize <= 0 {
		errs = append(errs, errors.New("queue_size must be positive"))
	}
	if c.Processes.Enabled {
		if c.Processes.MaxArgs <= 0 || c.Processes.MaxArgBytes <= 0 {
			errs = append(errs, errors.New("processes: max_args and max_arg_bytes must be positive"))
		}
	}
	if c.Hashing.Enabled {
		h := c.Hashing
		for _, o := range []struct {
			name string
			v    int64
		}{
			{"max_file_size", h.MaxFileSize}, {"max_hole_bytes", h.MaxHoleBytes}, {"cache_size", int64(h.CacheSize)},
			{"workers", int64(h.Workers)}, {"queue_size", int64(h.QueueSize)},
		} {
			if o.v <= 0 {
				errs = append(errs, fmt.Errorf("hashing: %s must be positive, not %d", o.name, o.v))
			}
		}
		if h.BytesPerSecond < 0 {
			errs = append(errs, errors.New("hashing: bytes_per_second must not be negative (0 is unlimited)"))
		}
		if h.Wait <= 0 {
			errs = append(errs, errors.New("hashing: wait must be positive"))
		}
	}
	if c.Connections.Enabled {
		if c.Connections.Interval < 10*time.Millisecond {
			errs = append(errs, errors.New("connections: interval must be at least 10ms"))
		}
		if len(c.Connections.Protocols) == 0 {
			errs = append(errs, errors.New("connections: protocols must list tcp and/or udp"))
		}
		for _, p := range c.Connections.Protocols {
			if p != "tcp" && p != "udp" {
				errs = append(errs, fmt.Errorf("connections: unknown protocol %q (tcp, udp)", p))
			}
		}
	}
	if c.DNS.Enabled {
		if c.DNS.CacheSize <= 0 {
			errs = append(errs, errors.New("dns: cache_size must be positive"))
		}
		if c.DNS.MinTTL < 0 || c.DNS.MaxTTL < c.DNS.MinTTL {
			errs = append(errs, errors.New("dns: need 0 <= min_ttl <= max_ttl"))
		}
		for _, i := range c.DNS.Interfaces {
			if i == "" {
				errs = append(errs, errors.New("dns: empty interface name"))
			}
		}
		if c.DNS.MaxPendingQueries <= 0 {
			errs = append(errs, fmt.Errorf("dns: max_pending_queries must be positive, not %d", c.DNS.MaxPendingQueries))
		}
		if c.DNS.QueryTimeout <= 0 {
			errs = append(errs, fmt.Errorf("dns: query_timeout must be positive, not %s", c.DNS.QueryTimeout))
		}
	}
	if c.Audit.Enabled {
		switch c.Audit.Source {
		case auditSourceFile:
			if c.Audit.LogFile == "" {
				errs = append(errs, errors.New("audit: log_file is required"))
			}
		case auditSourceNetlink:
		default:
			errs = append(errs, fmt.Errorf("audit: source must be file or netlink, not %q", c.Audit.Source))
		}
		if c.Audit.StartAt != "end" && c.Audit.StartAt != "beginning" {
			errs = append(errs, fmt.Errorf("audit: start_at must be end or beginning, not %q", c.Audit.StartAt))
		}
		if c.Audit.PollInterval <= 0 || c.Audit.ReassemblyTimeout <= 0 {
			errs = append(errs, errors.New("audit: poll_interval and reassembly_timeout must be positive"))
		}
		for _, n := range c.Audit.NodeNames {
			if n == "" || strings.ContainsAny(n, " \t\n") {
				errs = append(errs, fmt.Errorf("audit: node_names: %q is not a node name", n))
			}
		}
	}
	if !c.Processes.Enabled && !c.Connections.Enabled && !c.DNS.Enabled && !c.Audit.Enabled {
		errs = append(errs, errors.New("every source is disabled (processes, connections, dns, audit)"))
	}
	return errors.Join(errs...)
}
