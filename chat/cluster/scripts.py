"""
The Lua scripts that change the cluster's shared state in Redis, each in one
step: Redis runs a script whole, with nothing in between, so that a node's
fence, its lease, its place in the log and what it appends never disagree.

The keys, under a prefix (C{chat:} by default):

 - C{log}: the stream every node appends to and reads, in one order;
 - C{count}: how many entries were ever appended (each entry carries its
   number, C{g}: a reader that sees one missing knows it missed some);
 - C{incarnation}: chosen by the first node to find Redis empty; a Redis
   that comes back empty has none, and every node learns it was reset;
 - C{fence}: the count fencing tokens are drawn from;
 - C{nodes}: each node's name and its fencing token now;
 - C{lease:NAME}: a node's lease, which expires by Redis's clock unless
   renewed;
 - C{seq:NAME}: the number of the node's last appended entry: its
   idempotency key. A node numbers its entries 1, 2, 3... and sends them in
   order; one sent again after a lost answer is recognised and not added;
 - C{ready}: the nodes that hold the chat's state (a node joining waits for
   it from one of them; with none, it is the first, and holds it at once);
 - C{conns:NAME}: how many connections a node holds, per address (its
   users' addresses, for --max-per-ip across nodes), and C{connids:NAME}
   the ids of those it counted (so that counting one, or forgetting it, is
   done once however often it is asked); both gone with the node;
 - C{allow:WHAT:KEY}: an allowance shared by the nodes (wrong passwords per
   nickname and per address, registrations per address), as a token bucket
   on Redis's clock: C{t} tokens at C{s} ms; gone once it is full again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from chat.cluster import redis


@dataclass(frozen=True)
class Script:
    """
    A script's text and its SHA-1, by which Redis runs one it has cached.
    """

    text: str

    @cached_property
    def sha(self) -> str:
        # Once: every append names its script by it.
        return hashlib.sha1(self.text.encode("utf-8")).hexdigest()


async def run(connection: Any, script: Script, keys: list[str], args: list[Any]) -> Any:
    """
    Run C{script} on C{connection} by its SHA-1, sending its text once Redis
    does not have it (at the first use, and after a broker restart).
    """
    try:
        return await connection.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
    except redis.Refused as e:
        if not str(e).startswith("NOSCRIPT"):
            raise
    return await connection.execute_command("EVAL", script.text, len(keys), *keys, *args)


# Appends one entry to the log (KEYS[1]) and counts it (KEYS[2]): its fields
# are ARGV from the fourth on (MAXLEN is ARGV[1]).
_ADD = """
local function add(stream, count, maxlen, ...)
  local g = redis.call('INCR', count)
  return redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'g', g, ...)
end
"""

JOIN = Script(
    _ADD
    + """
-- KEYS: log, count, incarnation, fence, nodes, lease, seq, ready, conns, connids
-- ARGV: maxlen, node, lease ms, a new incarnation
local incarnation = redis.call('GET', KEYS[3])
if not incarnation then
  redis.call('SET', KEYS[3], ARGV[4])
  incarnation = ARGV[4]
end
local old = redis.call('HGET', KEYS[5], ARGV[2])
if old then
  -- The node's previous life (a crash, a restart within its lease): its
  -- users are gone, and everyone is told before it comes back. Said
  -- "replaced": if that life is still running (a second process given the
  -- same name), it reads why it is out.
  add(KEYS[1], KEYS[2], ARGV[1], 'n', ARGV[2], 't', old, 's', 0, 'k', 'lost', 'd', '"replaced"')
end
-- A new life holds no connections yet.
redis.call('DEL', KEYS[9], KEYS[10])
-- The nodes in the cluster before this one that hold the chat's state (it
-- is given it by one of them): its 'up' entry names them. Nodes that are
-- joining themselves hold none: with no node ready, this one is the first
-- (after a broker that came back empty, every node joins again at once).
redis.call('SREM', KEYS[8], ARGV[2])
local others = {}
for _, node in ipairs(redis.call('HKEYS', KEYS[5])) do
  if node ~= ARGV[2] and redis.call('SISMEMBER', KEYS[8], node) == 1 then
    table.insert(others, node)
  end
end
table.sort(others)
if #others == 0 then redis.call('SADD', KEYS[8], ARGV[2]) end
local token = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[5], ARGV[2], token)
redis.call('SET', KEYS[6], token, 'PX', ARGV[3])
redis.call('SET', KEYS[7], 0)
local named = '[' .. (#others > 0 and ('"' .. table.concat(others, '","') .. '"') or '') .. ']'
local id = add(KEYS[1], KEYS[2], ARGV[1], 'n', ARGV[2], 't', token, 's', 0, 'k', 'up', 'd', named)
return {tostring(token), incarnation, id, redis.call('GET', KEYS[2]), named}
"""
)

REPLACED = (
    "another process joined the cluster as this node "
    "(a restart, or a second process given its --node name)"
)
"""
Why a node is out of the cluster when a process joined under its name (a
node restarted, or two given the same name by mistake: each then pushes the
other out, and says this).
"""

RENEW = Script(
    """
-- KEYS: incarnation, nodes, lease; ARGV: node, token, lease ms, incarnation
if redis.call('GET', KEYS[1]) ~= ARGV[4] then
  return redis.error_reply('RESET the broker lost its state')
end
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held ~= ARGV[2] then
  if held then
    return redis.error_reply('FENCED """
    + REPLACED
    + """')
  end
  return redis.error_reply('FENCED this node was reaped')
end
if redis.call('PEXPIRE', KEYS[3], ARGV[3]) == 0 then
  return redis.error_reply('FENCED the lease ran out')
end
return 1
"""
)

APPEND = Script(
    _ADD
    + """
-- KEYS: log, count, incarnation, nodes, lease, seq
-- ARGV: maxlen, node, token, incarnation, then (seq, kind, data) for each
-- entry: a burst in one call (one command for Redis to read and answer,
-- not one an entry). Returns how many were added (those sent again are not).
if redis.call('GET', KEYS[3]) ~= ARGV[4] then
  return redis.error_reply('RESET the broker lost its state')
end
if redis.call('HGET', KEYS[4], ARGV[2]) ~= ARGV[3] or redis.call('EXISTS', KEYS[5]) == 0 then
  return redis.error_reply('FENCED this node is no longer in the cluster')
end
local last = tonumber(redis.call('GET', KEYS[6]) or '0')
local added = 0
for i = 5, #ARGV, 3 do
  local seq = tonumber(ARGV[i])
  if seq > last then
    last = seq
    add(KEYS[1], KEYS[2], ARGV[1], 'n', ARGV[2], 't', ARGV[3], 's', ARGV[i], 'k', ARGV[i + 1],
        'd', ARGV[i + 2])
    added = added + 1
  end
end
redis.call('SET', KEYS[6], last)
return added
"""
)

REAP = Script(
    _ADD
    + """
-- KEYS: log, count, nodes, ready
-- ARGV: maxlen, the prefix of lease keys, of connection counts, of their ids
-- Every node whose lease ran out leaves the cluster, and the log says so
-- once, whichever node noticed first; its connections count no more.
local nodes = redis.call('HGETALL', KEYS[3])
local reaped = {}
for i = 1, #nodes, 2 do
  local node, token = nodes[i], nodes[i + 1]
  if redis.call('EXISTS', ARGV[2] .. node) == 0 then
    redis.call('HDEL', KEYS[3], node)
    redis.call('SREM', KEYS[4], node)
    redis.call('DEL', ARGV[3] .. node, ARGV[4] .. node)
    add(KEYS[1], KEYS[2], ARGV[1], 'n', node, 't', token, 's', 0, 'k', 'lost', 'd', '')
    table.insert(reaped, node)
  end
end
return reaped
"""
)

LEAVE = Script(
    _ADD
    + """
-- KEYS: log, count, nodes, lease, ready, conns, connids; ARGV: maxlen, node, token
-- A node that stops cleanly: its users have been told; the others learn it.
if redis.call('HGET', KEYS[3], ARGV[2]) ~= ARGV[3] then
  return 0
end
redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('DEL', KEYS[4], KEYS[6], KEYS[7])
redis.call('SREM', KEYS[5], ARGV[2])
add(KEYS[1], KEYS[2], ARGV[1], 'n', ARGV[2], 't', ARGV[3], 's', 0, 'k', 'down', 'd', '')
return 1
"""
)

READY = Script(
    """
-- KEYS: nodes, ready; ARGV: node, token
-- The node holds the chat's state now (it was given it): newcomers may ask it.
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""
)

ARCHIVED = Script(
    """
-- KEYS: log; ARGV: the archive's group, an entry id
-- 1 once every entry up to that id is archived: the group has handed them
-- all out, and none of them waits to be acknowledged; else 0.
local function order(id)
  local ms, n = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(n)
end
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok then return 0 end
local last
for _, group in ipairs(groups) do
  local fields = {}
  for i = 1, #group, 2 do fields[group[i]] = group[i + 1] end
  if fields['name'] == ARGV[1] then last = fields['last-delivered-id'] end
end
if not last then return 0 end
local lm, ln = order(last)
local tm, tn = order(ARGV[2])
if lm < tm or (lm == tm and ln < tn) then return 0 end
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', ARGV[2], 1) > 0 then return 0 end
return 1
"""
)

UNHANDED = Script(
    """
-- KEYS: log; ARGV: the archive's group
-- How many entries were trimmed from the log before the group handed them
-- out (each entry's number g counts every entry added, as does the group's
-- entries-read every entry it handed out): {count, or -1 if unknown}.
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #first == 0 then return 0 end
local g
local fields = first[1][2]
for i = 1, #fields, 2 do
  if fields[i] == 'g' then g = tonumber(fields[i + 1]) end
end
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok or not g then return -1 end
for _, group in ipairs(groups) do
  local info = {}
  for i = 1, #group, 2 do info[group[i]] = group[i + 1] end
  if info['name'] == ARGV[1] then
    local read = tonumber(info['entries-read'])
    if not read then return -1 end
    return math.max(0, g - 1 - read)
  end
end
return -1
"""
)

# A token bucket's tokens now, by Redis's clock (ms): held ones refilled at
# rate a second up to burst; a bucket that is not held is full.
_BUCKET = """
local function now()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local function tokens(key, rate, burst, ms)
  local held = redis.call('HMGET', key, 't', 's')
  if not held[1] then return burst end
  return math.min(burst, tonumber(held[1]) + (ms - tonumber(held[2])) / 1000 * rate)
end
local function keep(key, rate, burst, ms, left)
  redis.call('HSET', key, 't', tostring(left), 's', ms)
  redis.call('PEXPIRE', key, math.ceil((burst - left) / rate * 1000) + 1000)
end
"""

TAKE = Script(
    _BUCKET
    + """
-- KEYS: the buckets; ARGV: the rate and burst of each, in turn
-- One token from every bucket, or none: 0 once taken, else the number
-- (from 1) of the first bucket used up.
local ms = now()
local held = {}
for i, key in ipairs(KEYS) do
  held[i] = tokens(key, tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i]), ms)
  if held[i] < 1 then return i end
end
for i, key in ipairs(KEYS) do
  keep(key, tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i]), ms, held[i] - 1)
end
return 0
"""
)

GIVE = Script(
    _BUCKET
    + """
-- KEYS: a bucket; ARGV: its rate and burst
-- A token back, for an action that did not happen (a full bucket stays full).
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local ms = now()
keep(KEYS[1], rate, burst, ms, math.min(burst, tokens(KEYS[1], rate, burst, ms) + 1))
return 1
"""
)

CONNECT = Script(
    """
-- KEYS: nodes, this node's connection counts, their ids
-- ARGV: node, token, address, limit, the prefix of connection counts, id
-- One more connection from the address on this node, unless the nodes
-- hold the limit already: 1 if counted (or counted already), 0 if not.
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return redis.error_reply('FENCED this node is no longer in the cluster')
end
if redis.call('SISMEMBER', KEYS[3], ARGV[6]) == 1 then return 1 end
local held = 0
for _, node in ipairs(redis.call('HKEYS', KEYS[1])) do
  held = held + tonumber(redis.call('HGET', ARGV[5] .. node, ARGV[3]) or '0')
end
if held >= tonumber(ARGV[4]) then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
redis.call('SADD', KEYS[3], ARGV[6])
return 1
"""
)

DISCONNECT = Script(
    """
-- KEYS: nodes, this node's connection counts, their ids
-- ARGV: node, token, address, id
-- A connection has gone: no longer counted, if it was (under another
-- token, the node's counts went with its previous life).
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if redis.call('SREM', KEYS[3], ARGV[4]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[3], -1) <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[3])
end
return 1
"""
)
