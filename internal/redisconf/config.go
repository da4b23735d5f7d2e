// Package redisconf holds the configuration of a Redis (or Valkey)
// connection shared by Cairn's components (firstseen's shared store,
// correlate's shared state): one server, a Sentinel-managed master or a
// Cluster, with credentials, TLS and timeouts, and the go-redis client
// built from it.
//
// Securing it. Whoever can write Cairn's keys rewrites the fleet's state:
// a term recorded as known is flagged by no collector, a deleted one is
// flagged again, correlation windows can be replaced. So:
//
//   - TLS: tls.insecure: false with tls.ca_file (the CA of the server's
//     certificate; a CA alone also turns TLS on, as in every collector TLS
//     client), and for mutual TLS tls.cert_file and tls.key_file, which the
//     server checks with tls-auth-clients yes.
//   - One ACL user per collector (username, password or password_file),
//     limited by ACLRules to Cairn's keys and commands, instead of one
//     shared password (requirepass, the default user): one agent's
//     credentials then expose Cairn's keys only, not the rest of the
//     server, and are revoked alone (ACL DELUSER) without touching the
//     others. A compromised agent can still write Cairn's keys: mark terms
//     known, delete them, replace correlation state.
//   - Warnings: credentials over plain TCP, and TLS without checking the
//     server's certificate, are logged once at start (LogWarnings).
//
// internal/redisconf's and the processors' tests run this against a real
// redis-server: TLS with a test CA, mutual TLS, and users with ACLRules.
package redisconf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configtls"
	"go.uber.org/zap"
)

// Config says how to reach a shared Redis (or Valkey) store and how
// long a batch may wait for it.
type Config struct {
	// Endpoint is host:port of a single Redis server.
	Endpoint string `mapstructure:"endpoint"`
	// Username and Password authenticate (ACL user, or password only).
	Username string              `mapstructure:"username"`
	Password configopaque.String `mapstructure:"password"`
	// PasswordFile: read the password from this file (trailing newline
	// removed) at start, instead of Password.
	PasswordFile string `mapstructure:"password_file"`
	// DB selects the database (single server and Sentinel only).
	DB int `mapstructure:"db"`
	// TLS settings; insecure: true (the default) means plain TCP unless
	// ca_file (or ca_pem) is set (see PlainTCP).
	TLS configtls.ClientConfig `mapstructure:"tls"`
	// Sentinel: a master managed by Redis Sentinel.
	Sentinel SentinelConfig `mapstructure:"sentinel"`
	// Cluster: a Redis Cluster.
	Cluster ClusterConfig `mapstructure:"cluster"`
	// KeyPrefix starts every key; collectors that share baselines must use
	// the same prefix.
	KeyPrefix string `mapstructure:"key_prefix"`
	// Timeout is the latency budget of one batch's round trip: past it the
	// batch is decided from the local store and marked degraded.
	Timeout time.Duration `mapstructure:"timeout"`
	// DialTimeout bounds connecting (also the health probe while degraded).
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
	// RetryInterval: while Redis is unavailable, how often it is probed.
	RetryInterval time.Duration `mapstructure:"retry_interval"`
	// PoolSize: connections per node (0: go-redis' default, 10 per CPU).
	PoolSize int `mapstructure:"pool_size"`

	_ struct{}
}

// SentinelConfig names a Sentinel-managed master.
type SentinelConfig struct {
	MasterName   string              `mapstructure:"master_name"`
	Addresses    []string            `mapstructure:"addresses"`
	Username     string              `mapstructure:"username"`
	Password     configopaque.String `mapstructure:"password"`
	PasswordFile string              `mapstructure:"password_file"`

	_ struct{}
}

// ClusterConfig lists seed nodes of a Redis Cluster.
type ClusterConfig struct {
	Addresses []string `mapstructure:"addresses"`

	_ struct{}
}

// Check checks the options; messages name them under "redis". (Not named
// Validate: the collector would then check it even where Redis is not used.)
func (rc *Config) Check() error {
	var errs error
	modes := 0
	if rc.Endpoint != "" {
		modes++
	}
	if rc.Sentinel.MasterName != "" || len(rc.Sentinel.Addresses) > 0 {
		modes++
		if rc.Sentinel.MasterName == "" || len(rc.Sentinel.Addresses) == 0 {
			errs = errors.Join(errs, errors.New("redis.sentinel: master_name and addresses are both required"))
		}
	}
	if len(rc.Cluster.Addresses) > 0 {
		modes++
		if rc.DB != 0 {
			errs = errors.Join(errs, errors.New("redis.db: Redis Cluster has only database 0"))
		}
	}
	switch modes {
	case 0:
		errs = errors.Join(errs, errors.New("redis: set endpoint, sentinel or cluster"))
	case 1:
	default:
		errs = errors.Join(errs, errors.New("redis: endpoint, sentinel and cluster are exclusive"))
	}
	if rc.Password != "" && rc.PasswordFile != "" {
		errs = errors.Join(errs, errors.New("redis: password and password_file are exclusive"))
	}
	if rc.Sentinel.Password != "" && rc.Sentinel.PasswordFile != "" {
		errs = errors.Join(errs, errors.New("redis.sentinel: password and password_file are exclusive"))
	}
	if rc.DB < 0 {
		errs = errors.Join(errs, errors.New("redis.db must not be negative"))
	}
	if rc.KeyPrefix == "" {
		errs = errors.Join(errs, errors.New("redis.key_prefix must not be empty"))
	}
	if rc.Timeout <= 0 {
		errs = errors.Join(errs, errors.New("redis.timeout must be positive"))
	}
	if rc.DialTimeout <= 0 {
		errs = errors.Join(errs, errors.New("redis.dial_timeout must be positive"))
	}
	if rc.RetryInterval <= 0 {
		errs = errors.Join(errs, errors.New("redis.retry_interval must be positive"))
	}
	if rc.PoolSize < 0 {
		errs = errors.Join(errs, errors.New("redis.pool_size must not be negative"))
	}
	if err := rc.TLS.Validate(); err != nil {
		errs = errors.Join(errs, fmt.Errorf("redis.tls: %w", err))
	}
	return errs
}

// ClientConfig resolves secrets and TLS into the store's client settings.
// Errors never include a password.
func (rc *Config) ClientConfig(ctx context.Context) (ClientConfig, error) {
	password, err := secret(string(rc.Password), rc.PasswordFile, "redis.password_file")
	if err != nil {
		return ClientConfig{}, err
	}
	sentinelPassword, err := secret(string(rc.Sentinel.Password), rc.Sentinel.PasswordFile, "redis.sentinel.password_file")
	if err != nil {
		return ClientConfig{}, err
	}
	tlsCfg, err := rc.TLS.LoadTLSConfig(ctx)
	if err != nil {
		return ClientConfig{}, fmt.Errorf("redis.tls: %w", err)
	}
	return ClientConfig{
		Addr:             rc.Endpoint,
		Username:         rc.Username,
		Password:         password,
		DB:               rc.DB,
		TLS:              tlsCfg,
		SentinelMaster:   rc.Sentinel.MasterName,
		SentinelAddrs:    rc.Sentinel.Addresses,
		SentinelUsername: rc.Sentinel.Username,
		SentinelPassword: sentinelPassword,
		ClusterAddrs:     rc.Cluster.Addresses,
		DialTimeout:      rc.DialTimeout,
		IOTimeout:        max(rc.Timeout, rc.DialTimeout),
		PoolSize:         rc.PoolSize,
	}, nil
}

func secret(inline, file, option string) (string, error) {
	if file == "" {
		return inline, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		// The path is configuration, not a secret; the content never appears.
		return "", fmt.Errorf("%s: %w", option, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Default returns the default options, with keys under prefix: a batch
// waits at most 100ms for Redis, a connection attempt 2s, and an
// unavailable Redis is probed every second; plain TCP.
func Default(prefix string) Config {
	return Config{
		KeyPrefix:     prefix,
		Timeout:       100 * time.Millisecond,
		DialTimeout:   2 * time.Second,
		RetryInterval: time.Second,
		TLS:           configtls.ClientConfig{Insecure: true},
	}
}

// Warnings lists what is unsafe in the configuration without being wrong,
// for the component to log at start (LogWarnings): credentials sent over
// plain TCP (any host on the path reads them, and with them can rewrite the
// fleet's shared state), and TLS that does not check the server's
// certificate. They name the options.
func (rc *Config) Warnings() []string {
	var w []string
	for _, x := range rc.warnings() {
		w = append(w, x.msg)
	}
	return w
}

type warning struct{ setting, msg string }

// PlainTCP reports whether the connection goes without TLS: as for every
// collector TLS client, tls.insecure: true (the default here) means plain
// TCP unless a CA (ca_file or ca_pem) is set.
func (rc *Config) PlainTCP() bool {
	return rc.TLS.Insecure && rc.TLS.CAFile == "" && len(rc.TLS.CAPem) == 0
}

func (rc *Config) warnings() []warning {
	var w []warning
	plain := rc.PlainTCP()
	if plain && (rc.Password != "" || rc.PasswordFile != "") {
		w = append(w, warning{"redis.tls.insecure", "redis: the password is sent over plain TCP (redis.tls.insecure is true): set redis.tls (and give each collector its own ACL user, redis.username) unless the connection stays on a trusted host"})
	}
	if plain && (rc.Sentinel.Password != "" || rc.Sentinel.PasswordFile != "") {
		w = append(w, warning{"redis.tls.insecure", "redis.sentinel: the Sentinel password is sent over plain TCP (redis.tls.insecure is true)"})
	}
	if !plain && rc.TLS.InsecureSkipVerify {
		w = append(w, warning{"redis.tls.insecure_skip_verify", "redis.tls: insecure_skip_verify is true: the server's certificate is not checked, so anyone on the path can pose as Redis and read the credentials; set redis.tls.ca_file instead"})
	}
	return w
}

// LogWarnings logs each of Warnings once, at Warn level, with the
// component and the setting it is about. Components call it at start.
func (rc *Config) LogWarnings(logger *zap.Logger, component string) {
	if logger == nil {
		return
	}
	for _, w := range rc.warnings() {
		logger.Warn(w.msg, zap.String("component", component), zap.String("setting", w.setting))
	}
}
