package redisconf

import (
	"crypto/tls"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// ClientConfig says how to reach Redis: one address, a Sentinel-managed
// master, or a Cluster.
type ClientConfig struct {
	Addr     string
	Username string
	Password string
	DB       int
	TLS      *tls.Config

	// Sentinel: the master's name and the sentinels' addresses.
	SentinelMaster   string
	SentinelAddrs    []string
	SentinelUsername string
	SentinelPassword string

	// ClusterAddrs: seed nodes of a Redis Cluster.
	ClusterAddrs []string

	DialTimeout time.Duration
	// IOTimeout bounds each read and write; callers also pass deadlines.
	IOTimeout time.Duration
	PoolSize  int
}

// NewClient builds the go-redis client for c. Retries are off: a retried
// script whose first reply was lost would find its own write and report a
// new term as known, so a failure is reported to the caller instead.
func NewClient(c ClientConfig) (redis.UniversalClient, bool) {
	noMaint := &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	switch {
	case len(c.ClusterAddrs) > 0:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                    c.ClusterAddrs,
			Username:                 c.Username,
			Password:                 c.Password,
			TLSConfig:                c.TLS,
			DialTimeout:              c.DialTimeout,
			ReadTimeout:              c.IOTimeout,
			WriteTimeout:             c.IOTimeout,
			PoolSize:                 c.PoolSize,
			MaxRetries:               -1,
			ContextTimeoutEnabled:    true,
			DisableIdentity:          true,
			MaintNotificationsConfig: noMaint,
		}), true
	case c.SentinelMaster != "":
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:            c.SentinelMaster,
			SentinelAddrs:         c.SentinelAddrs,
			SentinelUsername:      c.SentinelUsername,
			SentinelPassword:      c.SentinelPassword,
			Username:              c.Username,
			Password:              c.Password,
			DB:                    c.DB,
			TLSConfig:             c.TLS,
			DialTimeout:           c.DialTimeout,
			ReadTimeout:           c.IOTimeout,
			WriteTimeout:          c.IOTimeout,
			PoolSize:              c.PoolSize,
			MaxRetries:            -1,
			ContextTimeoutEnabled: true,
			DisableIdentity:       true,
		}), false
	default:
		return redis.NewClient(&redis.Options{
			Addr:                     c.Addr,
			Username:                 c.Username,
			Password:                 c.Password,
			DB:                       c.DB,
			TLSConfig:                c.TLS,
			DialTimeout:              c.DialTimeout,
			ReadTimeout:              c.IOTimeout,
			WriteTimeout:             c.IOTimeout,
			PoolSize:                 c.PoolSize,
			MaxRetries:               -1,
			ContextTimeoutEnabled:    true,
			DisableIdentity:          true,
			MaintNotificationsConfig: noMaint,
		}), false
	}
}
