package online

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadAPIKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
		return p
	}
	good := write("good", "  "+testKey+"\n", 0o600)
	empty := write("empty", " \n\t", 0o600)
	spaced := write("spaced", testKey+" "+testKey, 0o600)
	big := write("big", string(make([]byte, 5000)), 0o600)
	unreadable := write("unreadable", testKey, 0o000)

	t.Setenv("CAIRN_TEST_VT_KEY", "\t"+testKey+" \n")
	t.Setenv("CAIRN_TEST_VT_EMPTY", "  ")
	t.Setenv("CAIRN_TEST_VT_BAD", "abc\x01def")

	for _, tc := range []struct {
		name, env, file string
		want            string
		errHas          string
	}{
		{name: "env trimmed", env: "CAIRN_TEST_VT_KEY", want: testKey},
		{name: "file trimmed", file: good, want: testKey},
		{name: "both", env: "CAIRN_TEST_VT_KEY", file: good, errHas: "not both"},
		{name: "neither", errHas: "no environment variable or file"},
		{name: "env unset", env: "CAIRN_TEST_VT_UNSET", errHas: "CAIRN_TEST_VT_UNSET is not set"},
		{name: "env empty", env: "CAIRN_TEST_VT_EMPTY", errHas: "is empty"},
		{name: "env control char", env: "CAIRN_TEST_VT_BAD", errHas: "control"},
		{name: "file missing", file: filepath.Join(dir, "nope"), errHas: "no such file"},
		{name: "file empty", file: empty, errHas: "is empty"},
		{name: "file with two keys", file: spaced, errHas: "whitespace"},
		{name: "file too big", file: big, errHas: "larger than"},
		{name: "file unreadable", file: unreadable, errHas: "permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "file unreadable" && os.Geteuid() == 0 {
				t.Skip("root reads any file")
			}
			got, err := LoadAPIKey(tc.env, tc.file)
			if tc.errHas == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			require.Error(t, err)
			assert.Empty(t, got)
			assert.Contains(t, err.Error(), tc.errHas)
			assert.NotContains(t, err.Error(), testKey)
			assert.NotContains(t, err.Error(), "def", "error quotes the bad key")
		})
	}
}

func TestNewValidatesConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mod    func(*Config)
		errHas string
	}{
		{"no key", func(c *Config) { c.APIKey = "" }, "API key is empty"},
		{"key with newline", func(c *Config) { c.APIKey = testKey + "\n" }, "whitespace"},
		{"ftp endpoint", func(c *Config) { c.Endpoint = "ftp://vt.example" }, "scheme"},
		{"no host", func(c *Config) { c.Endpoint = "https://" }, "no host"},
		{"credentials in URL", func(c *Config) { c.Endpoint = "https://user:" + testKey + "@vt.example" }, "credentials"},
		{"query", func(c *Config) { c.Endpoint = "https://vt.example/?apikey=x" }, "query"},
		{"negative rate", func(c *Config) { c.RequestsPerMinute = -1 }, "per minute"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "timeout"},
		{"negative queue", func(c *Config) { c.QueueSize = -1 }, "queue"},
		{"negative TTL", func(c *Config) { c.NegativeTTL = -1 }, "TTL"},
		{"negative cache", func(c *Config) { c.CacheSize = -1 }, "cache size"},
		{"negative threshold", func(c *Config) { c.MaliciousThreshold = -1 }, "threshold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{APIKey: testKey}
			tc.mod(&cfg)
			_, err := New(cfg, nil, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.errHas)
			assert.NotContains(t, err.Error(), testKey)
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := New(Config{APIKey: testKey}, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, Config{
		Endpoint:            "https://www.virustotal.com",
		APIKey:              testKey,
		RequestsPerMinute:   4,
		RequestsPerDay:      500,
		Timeout:             DefaultTimeout,
		QueueSize:           1000,
		PositiveTTL:         DefaultPositiveTTL,
		NegativeTTL:         DefaultNegativeTTL,
		CacheSize:           100000,
		MaliciousThreshold:  3,
		SuspiciousThreshold: 1,
		HostQueueSize:       20,
		HostRequestsPerDay:  50,
		CorroboratingHosts:  2,
	}, c.cfg)
	require.NoError(t, c.Shutdown(t.Context()))
}

func TestConfigFormattingHidesKey(t *testing.T) {
	cfg := Config{APIKey: testKey, Endpoint: "https://vt.example"}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg)} {
		assert.NotContains(t, s, testKey)
		assert.Contains(t, s, "[REDACTED]")
	}
}
