package hostreceiver

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/receiver/hostreceiver/internal/metadata"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	return cfg, testkit.LoadConfig(t, metadata.Type, name, cfg)
}

func TestDefaultConfig(t *testing.T) {
	cfg, err := loadConfig(t, "")
	require.NoError(t, err)
	assert.Equal(t, createDefaultConfig(), cfg)
	assert.True(t, cfg.Processes.Enabled && cfg.Hashing.Enabled && cfg.Connections.Enabled && cfg.DNS.Enabled)
	assert.True(t, cfg.Processes.ExitEvents)
	assert.False(t, cfg.Audit.Enabled)
	assert.Equal(t, "file", cfg.Audit.Source)
	assert.True(t, cfg.Inventory)
	assert.Equal(t, time.Second, cfg.Connections.Interval)
	assert.Equal(t, []string{"tcp"}, cfg.Connections.Protocols)
}

func TestFullConfig(t *testing.T) {
	cfg, err := loadConfig(t, "full")
	require.NoError(t, err)
	assert.Equal(t, 32, cfg.Processes.MaxArgs)
	assert.False(t, cfg.Processes.ExitEvents)
	assert.Equal(t, int64(16<<20), cfg.Hashing.BytesPerSecond)
	assert.Equal(t, 5*time.Second, cfg.Hashing.Wait)
	assert.Equal(t, []string{"tcp", "udp"}, cfg.Connections.Protocols)
	assert.True(t, cfg.Connections.IncludeInbound)
	assert.Equal(t, []string{"eth0"}, cfg.DNS.Interfaces)
	assert.Equal(t, time.Minute, cfg.DNS.MinTTL)
	assert.Equal(t, "file", cfg.Audit.Source)
	assert.Equal(t, "beginning", cfg.Audit.StartAt)
	assert.Equal(t, 5*time.Second, cfg.Audit.ReassemblyTimeout)
	assert.Equal(t, "web-03", cfg.HostName)
	assert.Equal(t, int64(4<<20), cfg.Hashing.MaxHoleBytes)
	assert.Equal(t, 2048, cfg.DNS.MaxPendingQueries)
	assert.Equal(t, 5*time.Second, cfg.DNS.QueryTimeout)
	assert.Equal(t, []string{"web-03", "web-03.example.net"}, cfg.Audit.NodeNames)
	assert.Equal(t, []string{"/usr/lib/systemd/*", "/usr/sbin/chronyd"}, cfg.ExcludeExecutables)
	assert.Equal(t, 4096, cfg.QueueSize)

	_, err = loadConfig(t, "audit_only")
	require.NoError(t, err)
	cfg, err = loadConfig(t, "audit_netlink")
	require.NoError(t, err)
	assert.Equal(t, "netlink", cfg.Audit.Source)
}

func TestInvalidConfig(t *testing.T) {
	for name, want := range map[string]string{
		"bad_protocol":     `unknown protocol "sctp"`,
		"bad_start_at":     "start_at must be end or beginning",
		"nothing":          "every source is disabled",
		"bad_hashing":      "hashing: max_hole_bytes must be positive, not 0",
		"bad_dns":          "dns: max_pending_queries must be positive, not 0",
		"bad_node_names":   `audit: node_names: "two words" is not a node name`,
		"bad_audit_source": `audit: source must be file or netlink, not "socket"`,
	} {
		_, err := loadConfig(t, name)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), want, name)
	}
	// Every bad option is named, not just the first.
	_, err := loadConfig(t, "bad_hashing")
	assert.ErrorContains(t, err, "hashing: workers must be positive, not -1")
	_, err = loadConfig(t, "bad_dns")
	assert.ErrorContains(t, err, "dns: query_timeout must be positive, not 0s")
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, "cairn_host", f.Type().String())
	cfg := f.CreateDefaultConfig()
	require.NoError(t, cfg.(*Config).Validate())
	r, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, new(consumertest.LogsSink))
	require.NoError(t, err)
	// Never started: shutting down is harmless.
	require.NoError(t, r.Shutdown(context.Background()))
}

// TestValidateBoundsSizes: the sizes the receiver allocates from at start or
// per event are bounded, with messages naming the option and the bound. A
// queue_size of 1<<40 passed Validate before, and the start then made a
// channel of 2^40 slots (a panic: "makechan: size out of range"); a
// max_arg_bytes of MaxInt overflowed the read buffer's size (+1), and
// workers: 1<<40 started as many goroutines.
func TestValidateBoundsSizes(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(*Config)
		want   string
	}{
		"queue_size":     {func(c *Config) { c.QueueSize = 1 << 40 }, "queue_size must be at most 1048576, got 1099511627776"},
		"max_batch_size": {func(c *Config) { c.MaxBatchSize = math.MaxInt }, "max_batch_size must be at most 1048576"},
		"max_args":       {func(c *Config) { c.Processes.MaxArgs = math.MaxInt32 }, "processes: max_args must be at most 65536"},
		"max_arg_bytes":  {func(c *Config) { c.Processes.MaxArgBytes = math.MaxInt }, "processes: max_arg_bytes must be at most 4194304"},
		"workers":        {func(c *Config) { c.Hashing.Workers = 1 << 40 }, "hashing: workers must be at most 256"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, cfg.Validate())
			tc.change(cfg)
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	cfg := createDefaultConfig().(*Config)
	cfg.QueueSize, cfg.MaxBatchSize = 1<<20, 1<<20
	cfg.Processes.MaxArgs, cfg.Processes.MaxArgBytes, cfg.Hashing.Workers = 1<<16, 4<<20, 256
	assert.NoError(t, cfg.Validate(), "the bounds themselves are valid")
}
