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
//
// Prevalence: the terms of a tracker that counts hosts hold, after the time,
// the term's host set: "<time>:<host>,<host>,…" (hosts as 8 hex digits of
// their 32-bit fingerprint), or "<time>:*" once seen on the tracker's bound
// of hosts (saturated). A value written before host sets existed ("<time>")
// reads as saturated: known everywhere, as it was. The prevalence script
// returns, per key, the stored time, how many hosts had the term and
// whether this host was one of them, and records the host (unless asked
// only to look). The forget script takes one host out of a term's set (a
// taint); the active script keeps one sorted set per environment of hosts
// by their last trusted event time and returns how many are within the
// window. All of them go into the same pipeline: still one round trip per
// batch.
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
// and stores the later of the two, refreshing the TTL when it moved. A host
// set after the time (written by the prevalence script for the same
// tracker, when its configuration changed) is kept.
const termScript = `
local out = {}
for i, k in ipairs(KEYS) do
  local ts = tonumber(ARGV[i+1])
  local v = redis.call('GET', k)
  local prev, rest = 0, ''
  if v then
    local c = string.find(v, ':', 1, true)
    if c then
      prev, rest = tonumber(string.sub(v, 1, c - 1)), string.sub(v, c)
    else
      prev = tonumber(v)
    end
  end
  if ts > prev then
    redis.call('SET', k, ARGV[i+1] .. rest, 'PX', ARGV[1])
  end
  out[i] = prev
end
return out
`

// prevScript: ARGV[1] TTL (ms), ARGV[2] host-set bound, ARGV[3] history
// (s); then per KEYS[i] three values: event time, host (8 hex digits), and
// "1" to record or "0" to only look. Returns per key
// prev*256 + had*128 + hosts: the stored time before the call (0: absent),
// whether the host was in the set, and how many hosts it held (the bound
// once saturated; 0 when the term had expired by the event's time, which
// then starts a new set).
const prevScript = `
local cap, hist = tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i, k in ipairs(KEYS) do
  local ts = tonumber(ARGV[3*i+1])
  local host = ARGV[3*i+2]
  local v = redis.call('GET', k)
  local prev, n, had, hosts = 0, 0, 0, ''
  if v then
    local c = string.find(v, ':', 1, true)
    if c then
      prev, hosts = tonumber(string.sub(v, 1, c - 1)), string.sub(v, c + 1)
    else
      prev, hosts = tonumber(v), '*'
    end
    if ts > prev and ts - prev > hist then
      hosts = ''
    elseif hosts == '*' then
      n = cap
    elseif hosts ~= '' then
      for h in string.gmatch(hosts, '[^,]+') do
        n = n + 1
        if h == host then had = 1 end
      end
    end
  end
  if ARGV[3*i+3] == '1' then
    local next = hosts
    if had == 0 and hosts ~= '*' then
      if n + 1 >= cap then
        next = '*'
      elseif hosts == '' then
        next = host
      else
        next = hosts .. ',' .. host
      end
    end
    if (not v) or ts > prev or next ~= hosts then
      local t = prev
      if ts > prev then t = ts end
      redis.call('SET', k, string.format('%d', t) .. ':' .. next, 'PX', ARGV[1])
    end
  end
  out[i] = prev * 256 + had * 128 + n
end
return out
`

// forgetScript: ARGV[i] is a host (8 hex digits) to take out of KEYS[i]'s
// host set; a set left empty deletes the term. Saturated sets and values
// without hosts are left alone. Returns 1 per key where the host was
// removed.
const forgetScript = `
local out = {}
for i, k in ipairs(KEYS) do
  out[i] = 0
  local v = redis.call('GET', k)
  local c = v and string.find(v, ':', 1, true)
  if c then
    local hosts = string.sub(v, c + 1)
    if hosts ~= '*' and hosts ~= '' then
      local kept, found = {}, false
      for h in string.gmatch(hosts, '[^,]+') do
        if h == ARGV[i] then found = true else kept[#kept + 1] = h end
      end
      if found then
        out[i] = 1
        if #kept == 0 then
          redis.call('DEL', k)
        else
          redis.call('SET', k, string.sub(v, 1, c) .. table.concat(kept, ','), 'KEEPTTL')
        end
      end
    end
  end
end
return out
`

// activeScript: KEYS[1] is an environment's sorted set of hosts by last
// trusted event time. ARGV[1] TTL (ms), ARGV[2] the oldest time still
// active, then pairs of time and host. Records each host's time (the later
// one), drops hosts older than the window, and returns how many are left.
const activeScript = `
for i = 3, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], 'GT', ARGV[i], ARGV[i+1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('ZCARD', KEYS[1])
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
	termHash   = redis.NewScript(termScript).Hash()
	scopeHash  = redis.NewScript(scopeScript).Hash()
	prevHash   = redis.NewScript(prevScript).Hash()
	forgetHash = redis.NewScript(forgetScript).Hash()
	activeHash = redis.NewScript(activeScript).Hash()
)

// Op is one key to check and record.
type Op struct {
	Key string
	// TS: the event time to record (Active: the host's last event time).
	TS uint32
	// Host is the host fingerprint (Prevalence, Forget, Active), Learn
	// whether a Prevalence op records it or only looks.
	Host  uint32
	Learn bool
	// Stored is the result: for terms the time stored before the call (0 when
	// the key was absent), for scopes the time stored after it.
	Stored uint32
	// Hosts and Had (Prevalence): how many hosts held the term before the
	// call and whether Host was one of them.
	Hosts int
	Had   bool
	// Done is set when the results are valid.
	Done bool
}

// Kind says which script a Group runs.
type Kind uint8

const (
	// Terms: termScript, or scopeScript when Group.Scopes.
	Terms Kind = iota
	// Prevalence: terms with host sets (prevScript).
	Prevalence
	// Forget: take hosts out of terms' host sets (forgetScript).
	Forget
	// Active: one environment's active hosts (activeScript on Group.Key).
	Active
)

// Group is a set of keys sharing one script and TTL (one tracker's terms or
// scopes).
type Group struct {
	Scopes bool
	Kind   Kind
	TTL    time.Duration
	// Prevalence: the host-set bound and the history (seconds).
	HostCap int
	History uint32
	// Active: the sorted set, the oldest time still active, and the result:
	// how many hosts are active (Count, valid when CountDone).
	Key       string
	MinTS     uint32
	Count     int64
	CountDone bool
	Ops       []Op
}

func (g *Group) script() (hash, src string) {
	switch g.Kind {
	case Prevalence:
		return prevHash, prevScript
	case Forget:
		return forgetHash, forgetScript
	case Active:
		return activeHash, activeScript
	}
	if g.Scopes {
		return scopeHash, scopeScript
	}
	return termHash, termScript
}

// HostHex is how scripts spell a host fingerprint: 8 hex digits.
func HostHex(h uint32) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[h&15]
		h >>= 4
	}
	return string(b[:])
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
		hash, src := g.script()
		ttl := g.TTL.Milliseconds()
		if ttl < 1 {
			ttl = 1
		}
		step := chunk
		if g.Kind == Active {
			// One key whatever the number of hosts: one call, also on a
			// Cluster.
			step = max(len(g.Ops), 1)
		}
		for start := 0; start < len(g.Ops) || start == 0 && g.Kind == Active; start += step {
			n := min(step, len(g.Ops)-start)
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
		g.CountDone = false
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
	switch g.Kind {
	case Prevalence:
		keys := make([]string, n)
		args := make([]any, 3, 3+3*n)
		args[0], args[1], args[2] = ttl, g.HostCap, int64(g.History)
		for i := 0; i < n; i++ {
			op := &g.Ops[start+i]
			keys[i] = op.Key
			learn := "0"
			if op.Learn {
				learn = "1"
			}
			args = append(args, int64(op.TS), HostHex(op.Host), learn)
		}
		return keys, args
	case Forget:
		keys := make([]string, n)
		args := make([]any, n)
		for i := 0; i < n; i++ {
			op := &g.Ops[start+i]
			keys[i] = op.Key
			args[i] = HostHex(op.Host)
		}
		return keys, args
	case Active:
		args := make([]any, 2, 2+2*n)
		args[0], args[1] = ttl, int64(g.MinTS)
		for i := 0; i < n; i++ {
			op := &g.Ops[start+i]
			args = append(args, int64(op.TS), HostHex(op.Host))
		}
		return []string{g.Key}, args
	}
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
	if c.group.Kind == Active {
		n, err := c.cmd.Int64()
		if err != nil {
			return err
		}
		c.group.Count, c.group.CountDone = n, true
		for i := range c.group.Ops {
			c.group.Ops[i].Done = true
		}
		return nil
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
		switch c.group.Kind {
		case Prevalence:
			op.Stored = clampSeconds(v >> 8)
			op.Had = v&128 != 0
			op.Hosts = int(v & 127)
		default:
			op.Stored = clampSeconds(v)
		}
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
	for _, src := range []string{termScript, scopeScript, prevScript, forgetScript, activeScript} {
		if err := s.client.ScriptLoad(ctx, src).Err(); err != nil {
			return err
		}
	}
	return nil
}
