package redisconf

// ACLRules are the Redis ACL rules recommended for a collector's own Redis
// user, after its name, "on" and its password:
//
//	ACL SETUSER cairn-web-03 on >PASSWORD <ACLRules>
//
// Keys: only those under "cairn:" (the default key prefixes,
// cairn:firstseen: and cairn:correlate:; change the pattern with
// key_prefix). Commands: only what firstseen's shared store and correlate's
// shared state send: PING (health probe), EVALSHA, EVAL and SCRIPT LOAD
// (firstseen's Lua scripts), GET and SET (correlate), and what the scripts
// call (GET, SET, DEL, PEXPIRE, ZADD, ZREMRANGEBYSCORE, ZCARD; Redis checks
// a script's calls and keys against the user too). AUTH and HELLO need no
// permission. With db other than 0 add +select; on a Cluster (untested)
// +cluster|slots +command.
//
// The tests run the shared store and the shared state as a user with
// exactly these rules against a real redis-server, and check that the
// README shows them.
const ACLRules = "resetkeys ~cairn:* resetchannels -@all +ping +evalsha +eval +script|load +get +set +del +pexpire +zadd +zremrangebyscore +zcard"
