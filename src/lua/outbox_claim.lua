-- Leases due outbound messages to one daemon instance.
-- KEYS[1] prefix "{ns}:"; ARGV: now_ms, lease_ms, max, owner
-- Returns a flat array: id, channel, to, text, case, attempts, ...
local P = KEYS[1]
local now = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local owner = ARGV[4]
local ready, inflight = P .. 'outbox:ready', P .. 'outbox:inflight'

-- A lease that ran out means its instance died.  A message it had only
-- claimed goes back to the queue; one whose request had started may have
-- reached the gateway, and gateways take no idempotency key: it is set
-- aside as uncertain rather than risk sending it twice.
local expired = redis.call('ZRANGEBYSCORE', inflight, '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(expired) do
  redis.call('ZREM', inflight, id)
  local k = P .. 'out:' .. id
  if redis.call('HGET', k, 'state') == 'sending' then
    redis.call('HSET', k, 'state', 'uncertain', 'reclaimed', now)
    redis.call('RPUSH', P .. 'outbox:uncertain', id)
  else
    redis.call('ZADD', ready, now, id)
    redis.call('HSET', k, 'state', 'ready', 'reclaimed', now)
  end
end

local res = {}
local ids = redis.call('ZRANGEBYSCORE', ready, '-inf', now, 'LIMIT', 0, max)
for _, id in ipairs(ids) do
  redis.call('ZREM', ready, id)
  local k = P .. 'out:' .. id
  local h = redis.call('HMGET', k, 'channel', 'to', 'text', 'case', 'attempts')
  if h[1] then
    redis.call('ZADD', inflight, now + lease, id)
    redis.call('HSET', k, 'state', 'claimed', 'owner', owner)
    res[#res + 1] = id
    for i = 1, 5 do res[#res + 1] = h[i] or '' end
  end
end
return res
