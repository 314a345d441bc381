-- Leases due outbound messages to one daemon instance.
-- KEYS[1] prefix "{ns}:"; ARGV: now_ms, lease_ms, max, owner, sms_dlr (1/0)
-- Returns a flat array: id, channel, to, text, case, attempts, ...
--@use settle
-- The function <library>_outbox_claim: KEYS and ARGV are the FCALL's; all of
-- the script below runs at each call.
register('outbox_claim', function(KEYS, ARGV)
local P = KEYS[1]
local now = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local owner = ARGV[4]
local ready, inflight = P .. 'outbox:ready', P .. 'outbox:inflight'

-- A lease that ran out means its instance died.  A message it had only
-- claimed goes back to the queue.  One whose request had started may have
-- reached the gateway, which takes no idempotency key: on SMS with
-- delivery reports (ARGV[5] = '1') a report tells - any report means the
-- gateway had it (sent), none within the lease means it never got there
-- (queued again); elsewhere it is set aside as uncertain rather than risk
-- sending it twice.
local sms_dlr = ARGV[5] == '1'
local expired = redis.call('ZRANGEBYSCORE', inflight, '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(expired) do
  redis.call('ZREM', inflight, id)
  local k = P .. 'out:' .. id
  local h = redis.call('HMGET', k, 'state', 'channel', 'dlr', 'dlr_token')
  if h[1] == 'sending' and h[2] == 'sms' and sms_dlr and h[3] then
    redis.call('HSET', k, 'state', 'sent', 'reclaimed', now, 'detail', 'delivery report')
    out_settled(k, h[4] or '', h[3])
  elseif h[1] == 'sending' and not (h[2] == 'sms' and sms_dlr) then
    redis.call('HSET', k, 'state', 'uncertain', 'reclaimed', now)
    redis.call('RPUSH', P .. 'outbox:uncertain', id)
  else
    redis.call('ZADD', ready, now, id)
    redis.call('HSET', k, 'state', 'ready', 'reclaimed', now)
  end
end

-- The batch leaves the queue and enters the lease set with one ZREM and
-- one ZADD.
local res = {}
local ids = redis.call('ZRANGEBYSCORE', ready, '-inf', now, 'LIMIT', 0, max)
if #ids == 0 then return res end
redis.call('ZREM', ready, unpack(ids))
local leased = {}
for _, id in ipairs(ids) do
  local k = P .. 'out:' .. id
  local h = redis.call('HMGET', k, 'channel', 'to', 'text', 'case', 'attempts')
  if h[1] then
    leased[#leased + 1] = now + lease
    leased[#leased + 1] = id
    redis.call('HSET', k, 'state', 'claimed', 'owner', owner)
    res[#res + 1] = id
    for i = 1, 5 do res[#res + 1] = h[i] or '' end
  end
end
if #leased > 0 then redis.call('ZADD', inflight, unpack(leased)) end
return res
end)
