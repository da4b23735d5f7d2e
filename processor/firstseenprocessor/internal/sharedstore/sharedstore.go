// Package sharedstore keeps first-seen terms of environment-scoped trackers
// in Redis (or Valkey), shared by every collector of a fleet, so that a term
// new to the environment is flagged by exactly one collector.
//
// Each term is one key whose value is the term's last-seen event time (unix
// seconds) and whose TTL is the tracker's history window; each scope (an
// environment) is one key holding the event time of its first event, which
// starts its learning period. A batch of terms is checked and recorded in one
// round trip: one pipeline of EVALSHA calls, each a Lua script that, per key,
// returns the stored time and records the new one (the later one for terms,
// the earlier one for scopes). Redis runs a script atomically, so of two
// collectors that send the same new term only the first gets "absent" back.
//
// In Redis Cluster a script may only touch keys of one hash slot, so there
// every key gets its own EVALSHA (go-redis sends one pipeline per node, in
// parallel); elsewhere up to ChunkKeys keys share one call.
package sharedstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ChunkKeys bounds the keys of one script call outside Cluster mode, so that
// one call never holds Redis for long.
const ChunkKeys = 512

// termScript: ARGV[1] is the TTL in milliseconds, ARGV[1+i] the event time
// for KEYS[i]. Returns, per key, the stored time before the call (0: absent),
// and stores the later of the two, refreshing the TTL when it moved.
const termScript = `
local out = {}
for i, k in ipairs(KEYS) do
  local ts = tonumber(ARGV[i+1])
  local v = redis.call('GET', k)
  local prev = 0
  if v then prev = tonumber(v) end
  if ts > prev then
    redis.call('SET', k, ARGV[i+1], 'PX', ARGV[1])
  end
  out[i] = prev
end
return out
`

// scopeScript: like termScript, but keeps the earliest time, always refreshes
// the TTL, and returns the stored time after the call.
const scopeScript = `
local out = {}
for i, k in ipairs(KEYS) do
  local ts = tonumber(ARGV[i+1])
  local v = redis.call('GET', k)
  if (not v) or ts < tonumber(v) then
    redis.call('SET', k, ARGV[i+1], 'PX', ARGV[1])
    out[i] = ts
  else
    redis.call('PEXPIRE', k, ARGV[1])
    out[i] = tonumber(v)
  end
end
return out
`

var (
	termHash  = redis.NewScript(termScript).Hash()
	scopeHash = redis.NewScript(scopeScript).Hash()
)

// Op is one key to check and record.
type Op struct {
	Key string
	// TS: the event time to record.
	TS uint32
	// Stored is the result: for terms the time stored before the call (0 when
	// the key was absent), for scopes the time stored after it.
	Stored uint32
	// Done is set when Stored is valid.
	Done bool
}

// Group is a set of keys sharing one script and TTL (one tracker's terms or
// scopes).
type Group struct {
	Scopes bool
	TTL    time.Duration
	Ops    []Op
}

// Store runs check-and-record calls against Redis.
type Store struct {
	client  redis.UniversalClient
	cluster bool

	roundTrips atomic.Int64
	keys       atomic.Int64
}

// New wraps a client; cluster says whether it is a Cluster client.
func New(client redis.UniversalClient, cluster bool) *Store {
	return &Store{client: client, cluster: cluster}
}

// Client returns the underlying client.
func (s *Store) Client() redis.UniversalClient { return s.client }

// RoundTrips reports how many pipelines were sent since New (a Cluster
// pipeline, sent to its nodes in parallel, counts once).
func (s *Store) RoundTrips() int64 { return s.roundTrips.Load() }

// Keys reports how many keys were checked and recorded since New.
func (s *Store) Keys() int64 { return s.keys.Load() }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.client.Ping(ctx).Err()
}

// Close closes the client.
func (s *Store) Close() error { return s.client.Close() }

type call struct {
	cmd   *redis.Cmd
	group *Group
	start int
	n     int
	hash  string
	src   string
}

// Exec checks and records every op of every group in one pipeline. Ops whose
// call succeeded get Done and Stored; the first error is returned. A
// "NOSCRIPT" reply (Redis restarted or flushed its script cache) is retried
// once with EVAL, which sends the script along; the failed call had no
// effect.
func (s *Store) Exec(ctx context.Context, groups []*Group) error {
	var calls []call
	chunk := ChunkKeys
	if s.cluster {
		chunk = 1
	}
	pipe := s.client.Pipeline()
	for _, g := range groups {
		hash, src := termHash, termScript
		if g.Scopes {
			hash, src = scopeHash, scopeScript
		}
		ttl := g.TTL.Milliseconds()
		if ttl < 1 {
			ttl = 1
		}
		for start := 0; start < len(g.Ops); start += chunk {
			n := min(chunk, len(g.Ops)-start)
			keys, args := s.args(g, start, n, ttl)
			calls = append(calls, call{
				cmd:   pipe.EvalSha(ctx, hash, keys, args...),
				group: g, start: start, n: n, hash: hash, src: src,
			})
		}
	}
	if len(calls) == 0 {
		return nil
	}
	for _, g := range groups {
		s.keys.Add(int64(len(g.Ops)))
	}
	s.roundTrips.Add(1)
	_, execErr := pipe.Exec(ctx)
	var retry []call
	var first error
	for _, c := range calls {
		err := c.cmd.Err()
		if err != nil && isNoScript(err) {
			retry = append(retry, c)
			continue
		}
		if e := c.collect(execErr); e != nil && first == nil {
			first = e
		}
	}
	if len(retry) > 0 {
		pipe := s.client.Pipeline()
		for i, c := range retry {
			keys, args := s.args(c.group, c.start, c.n, max(c.group.TTL.Milliseconds(), 1))
			retry[i].cmd = pipe.Eval(ctx, c.src, keys, args...)
		}
		s.roundTrips.Add(1)
		_, execErr := pipe.Exec(ctx)
		for _, c := range retry {
			if e := c.collect(execErr); e != nil && first == nil {
				first = e
			}
		}
	}
	return first
}

func (s *Store) args(g *Group, start, n int, ttl int64) ([]string, []any) {
	keys := make([]string, n)
	args := make([]any, n+1)
	args[0] = ttl
	for i := 0; i < n; i++ {
		op := &g.Ops[start+i]
		keys[i] = op.Key
		args[i+1] = int64(op.TS)
	}
	return keys, args
}

// collect reads a call's reply. A command that got no reply at all (the
// connection failed before it was sent, e.g. refused authentication) takes
// the pipeline's error.
func (c call) collect(execErr error) error {
	if c.cmd.Err() == nil && c.cmd.Val() == nil {
		if execErr == nil {
			execErr = errors.New("sharedstore: no reply")
		}
		return execErr
	}
	vals, err := c.cmd.Int64Slice()
	if err != nil {
		return err
	}
	if len(vals) != c.n {
		return fmt.Errorf("sharedstore: script returned %d values for %d keys", len(vals), c.n)
	}
	for i, v := range vals {
		op := &c.group.Ops[c.start+i]
		op.Stored = clampSeconds(v)
		op.Done = true
	}
	return nil
}

func clampSeconds(v int64) uint32 {
	switch {
	case v < 0:
		return 0
	case v > 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(v)
}

func isNoScript(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "NOSCRIPT")
}

// LoadScripts loads both scripts into Redis' script cache ahead of the
// first batch, so that batch does not spend a second round trip on a
// NOSCRIPT retry. It is best effort: a batch still recovers from NOSCRIPT
// (after a restart or SCRIPT FLUSH) by itself.
// (Direct calls, not a pipeline: a Cluster client sends them to every
// master.)
func (s *Store) LoadScripts(ctx context.Context) error {
	if err := s.client.ScriptLoad(ctx, termScript).Err(); err != nil {
		return err
	}
	return s.client.ScriptLoad(ctx, scopeScript).Err()
}
