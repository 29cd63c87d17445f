/*
 * registry_scripts.c - the Lua texts (see registry_scripts.h).
 *
 * Sent with EVAL: Redis caches a compiled script by the SHA1 of its body,
 * so a repeated EVAL costs the bytes of the text but no compilation, and
 * unlike EVALSHA it needs no NOSCRIPT handling after Redis restarted.
 *
 * Every script starts with NOW: Redis's clock in milliseconds. Redis 7
 * replicates a script's effects, not the script, so TIME is allowed
 * before writes. Keys of other brokers are built from ARGV's prefix
 * "P" = "{prefix}:"; they share the hash tag, hence the slot, with the
 * KEYS passed in.
 *
 * A name's value is "<broker id> <session id>" (16 hex digits, a decimal
 * number); a broker is live while its score in P.."brokers" (its lease
 * deadline) is >= NOW.
 */
#include "config.h"

#include "registry_scripts.h"

/*
 * Redis 7's script flags (the shebang line): a script declared to write
 * is refused as a whole when Redis is out of memory or a read-only
 * replica, rather than failing at its first write; the look-up, which
 * only reads, may run on a replica too.
 */
#define WRITES "#!lua\n"
#define READS "#!lua flags=no-writes\n"

#define NOW \
    "local t = redis.call('TIME')\n" \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

/* Is broker `id` live at `now`? (KEYS[1] is always P.."brokers".) */
#define IS_LIVE \
    "local function is_live(id)\n" \
    "  local d = redis.call('ZSCORE', KEYS[1], id)\n" \
    "  return d and tonumber(d) >= now\n" \
    "end\n"

/*
 * KEYS: P.."brokers", P.."epoch", P.."broker:"..id
 * ARGV: candidate epoch, id, lease_ms, host, port
 * The epoch is set once; the broker's lease and hash (since = NOW, so
 * that it reaps nobody before it has been registered for a lease).
 * Returns the epoch.
 */
const char registry_script_register[] =
    WRITES NOW
    "redis.call('SET', KEYS[2], ARGV[1], 'NX')\n"
    "local epoch = redis.call('GET', KEYS[2])\n"
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])\n"
    "redis.call('HSET', KEYS[3], 'host', ARGV[4], 'port', ARGV[5],"
    " 'since', now)\n"
    "return epoch\n";

/*
 * KEYS: P.."brokers", P.."epoch", P.."broker:"..id, P.."mbox:"..id
 * ARGV: epoch, id, lease_ms, P, reap budget (names per call)
 * {'epoch'}: the epoch is not ours (Redis lost its data);
 * {'expired'}: our lease is gone or past (we were reaped: fence);
 * else the lease is extended and, if we have been registered for a
 * lease, expired brokers are reaped: up to `budget` of their names (only
 * those still theirs), then, once none is left, their hash, mailbox and
 * lease, with "dead <id>" posted to every live broker. Then our mailbox
 * is drained. Returns {'ok', live brokers, {notices}, {id, names, ...}}.
 */
const char registry_script_renew[] =
    WRITES NOW IS_LIVE
    "if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {'epoch'} end\n"
    "if not is_live(ARGV[2]) then return {'expired'} end\n"
    "local lease = tonumber(ARGV[3])\n"
    "local P = ARGV[4]\n"
    "redis.call('ZADD', KEYS[1], now + lease, ARGV[2])\n"
    "local reaped = {}\n"
    "local since = tonumber(redis.call('HGET', KEYS[3], 'since') or now)\n"
    "if since + lease <= now then\n"
    "  local budget = tonumber(ARGV[5])\n"
    "  local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf',"
    " '(' .. now, 'LIMIT', 0, 16)\n"
    "  for _, id in ipairs(dead) do\n"
    "    if budget <= 0 then break end\n"
    "    local set = P .. 'names:' .. id\n"
    "    local names = redis.call('SPOP', set, budget)\n"
    "    budget = budget - #names\n"
    "    local n = 0\n"
    "    for _, name in ipairs(names) do\n"
    "      local key = P .. 'name:' .. name\n"
    "      local v = redis.call('GET', key)\n"
    "      if v and string.sub(v, 1, #id + 1) == id .. ' ' then\n"
    "        redis.call('DEL', key)\n"
    "        n = n + 1\n"
    "      end\n"
    "    end\n"
    "    local hash = P .. 'broker:' .. id\n"
    "    n = redis.call('HINCRBY', hash, 'reaped', n)\n"
    "    if redis.call('SCARD', set) == 0 then\n"
    "      redis.call('DEL', hash, P .. 'mbox:' .. id)\n"
    "      redis.call('ZREM', KEYS[1], id)\n"
    "      local live = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')\n"
    "      for _, b in ipairs(live) do\n"
    "        redis.call('RPUSH', P .. 'mbox:' .. b, 'dead ' .. id)\n"
    "      end\n"
    "      reaped[#reaped + 1] = id\n"
    "      reaped[#reaped + 1] = n\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local mail = redis.call('LRANGE', KEYS[4], 0, -1)\n"
    "redis.call('DEL', KEYS[4])\n"
    "local live = redis.call('ZCOUNT', KEYS[1], now, '+inf')\n"
    "return {'ok', live, mail, reaped}\n";

/*
 * KEYS: P.."brokers", P.."name:"..name, P.."names:"..id
 * ARGV: id, session id, replace ("1"/"0"), name, P
 * {'unavailable'}: our own lease is not live (fenced or reaped);
 * {'ok'}: free, expired owner, or already ours under this session;
 * {'taken', owner, sid, host, port}: a live owner, no replace;
 * {'replaced', owner, sid, host, port}: taken over from a live owner,
 * the name removed from its set and "kick <sid> <name>" in its mailbox.
 */
const char registry_script_claim[] =
    WRITES NOW IS_LIVE
    "if not is_live(ARGV[1]) then return {'unavailable'} end\n"
    "local P = ARGV[5]\n"
    "local value = ARGV[1] .. ' ' .. ARGV[2]\n"
    "local cur = redis.call('GET', KEYS[2])\n"
    "if cur == value then return {'ok'} end\n"
    "local status = 'ok'\n"
    "local owner, sid\n"
    "if cur then\n"
    "  owner, sid = string.match(cur, '^(%x+) (%d+)$')\n"
    "  if owner and is_live(owner) then\n"
    "    status = ARGV[3] == '1' and 'replaced' or 'taken'\n"
    "  end\n"
    "end\n"
    "if status ~= 'ok' then\n"
    "  local hp = redis.call('HMGET', P .. 'broker:' .. owner,"
    " 'host', 'port')\n"
    "  if status == 'taken' then\n"
    "    return {status, owner, sid, hp[1] or '', hp[2] or '0'}\n"
    "  end\n"
    "  redis.call('RPUSH', P .. 'mbox:' .. owner,"
    " 'kick ' .. sid .. ' ' .. ARGV[4])\n"
    "  redis.call('SREM', P .. 'names:' .. owner, ARGV[4])\n"
    "  redis.call('SET', KEYS[2], value)\n"
    "  redis.call('SADD', KEYS[3], ARGV[4])\n"
    "  return {status, owner, sid, hp[1] or '', hp[2] or '0'}\n"
    "end\n"
    "if owner then redis.call('SREM', P .. 'names:' .. owner, ARGV[4]) end\n"
    "redis.call('SET', KEYS[2], value)\n"
    "redis.call('SADD', KEYS[3], ARGV[4])\n"
    "return {'ok'}\n";

/*
 * KEYS: P.."name:"..name, P.."names:"..id
 * ARGV: "<id> <session id>", name
 * Compare-and-delete: the name goes only if it is still that session's.
 * Returns 1 if deleted, else 0.
 */
const char registry_script_release[] =
    WRITES
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('SREM', KEYS[2], ARGV[2])\n"
    "return 1\n";

/*
 * KEYS: P.."brokers", P.."name:"..name
 * ARGV: P
 * {owner, sid, host, port} when the name's owner is live, else {}.
 */
const char registry_script_lookup[] =
    READS NOW IS_LIVE
    "local cur = redis.call('GET', KEYS[2])\n"
    "if not cur then return {} end\n"
    "local owner, sid = string.match(cur, '^(%x+) (%d+)$')\n"
    "if not owner or not is_live(owner) then return {} end\n"
    "local hp = redis.call('HMGET', ARGV[1] .. 'broker:' .. owner,"
    " 'host', 'port')\n"
    "return {owner, sid, hp[1] or '', hp[2] or '0'}\n";

/*
 * KEYS: P.."brokers", P.."names:"..id, P.."broker:"..id, P.."mbox:"..id
 * ARGV: id, P
 * Everything of ours goes (names only where still ours), and "dead <id>"
 * is posted to every other live broker. Returns the names removed.
 */
const char registry_script_leave[] =
    WRITES NOW
    "local P = ARGV[2]\n"
    "local n = 0\n"
    "for _, name in ipairs(redis.call('SMEMBERS', KEYS[2])) do\n"
    "  local key = P .. 'name:' .. name\n"
    "  local v = redis.call('GET', key)\n"
    "  if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then\n"
    "    redis.call('DEL', key)\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])\n"
    "redis.call('ZREM', KEYS[1], ARGV[1])\n"
    "local live = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')\n"
    "for _, b in ipairs(live) do\n"
    "  redis.call('RPUSH', P .. 'mbox:' .. b, 'dead ' .. ARGV[1])\n"
    "end\n"
    "return n\n";
