-- Records the outcome of one send.
-- KEYS[1] prefix; ARGV: id, outcome (sent|held|retry|dead), now_ms, next_due_ms, detail, owner
local P = KEYS[1]
local id, outcome, now, due, detail, owner = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local k = P .. 'out:' .. id
local inflight = P .. 'outbox:inflight'

-- A lease that expired and moved on belongs to someone else now.
if redis.call('ZSCORE', inflight, id) == false or redis.call('HGET', k, 'owner') ~= owner then
  return 'stale'
end
redis.call('ZREM', inflight, id)
local attempts = redis.call('HINCRBY', k, 'attempts', 1)
if outcome == 'sent' or outcome == 'held' then
  redis.call('HSET', k, 'state', outcome, 'sent_at', now, 'detail', detail)
  redis.call('EXPIRE', k, 2592000)
elseif outcome == 'retry' then
  redis.call('HSET', k, 'state', 'ready', 'last_error', detail)
  redis.call('ZADD', P .. 'outbox:ready', tonumber(due), id)
else
  redis.call('HSET', k, 'state', 'dead', 'last_error', detail, 'dead_at', now)
  redis.call('RPUSH', P .. 'outbox:dead', id)
end
return outcome .. ':' .. attempts
