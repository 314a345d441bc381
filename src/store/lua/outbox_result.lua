-- Records what happened to leased messages, several at once: the daemon
-- collects the marks and outcomes of one event-loop turn into one call.
-- KEYS[1] prefix; ARGV: owner, now_ms, records: per message four values
--   id, op, next_due_ms, detail, each ended by a NUL byte
-- op "sending": its request is about to start (marked before the request,
-- next_due_ms 0, or when the step leased it the end of its renewed lease;
-- so that an expired lease can tell a message that may have been sent
-- from one that surely was not); op sent|held|retry|dead: the outcome;
-- op awaiting|uncertain: the request went out and no answer came (a
-- timeout), as uncertain as one cut by a crash: "awaiting" keeps it
-- 'sending' in the lease set until next_due_ms, when outbox_claim.lua
-- settles it by its delivery report (dlr.lua settles it sooner);
-- "uncertain" sets it aside in outbox:uncertain for an administrator.
-- Returns one value per message: "ok" for a mark, "<outcome>:<attempts>"
-- for an outcome, or "stale" when the lease expired and moved on.
--@use settle
-- The function <library>_outbox_result: KEYS and ARGV are the FCALL's; all of
-- the script below runs at each call.
register('outbox_result', function(KEYS, ARGV)
local P = KEYS[1]
local owner, now = ARGV[1], ARGV[2]
local inflight = P .. 'outbox:inflight'
local res = {}

local function record(id, outcome, due, detail)
  local k = P .. 'out:' .. id
  -- A lease that expired and moved on belongs to someone else now.
  local h = redis.call('HMGET', k, 'owner', 'attempts', 'dlr_token', 'dlr')
  if h[1] ~= owner or redis.call('ZREM', inflight, id) == 0 then
    return 'stale'
  end
  local attempts = (tonumber(h[2]) or 0) + 1
  if outcome == 'sent' or outcome == 'held' then
    -- Settled: the hash goes, or waits for its delivery report (lib/settle.lua).
    if h[3] then
      redis.call('HSET', k, 'attempts', attempts, 'state', outcome, 'sent_at', now, 'detail', detail)
    end
    out_settled(k, h[3], h[4])
  elseif outcome == 'awaiting' then
    redis.call('HSET', k, 'attempts', attempts, 'state', 'sending', 'awaiting', now,
               'last_error', detail)
    redis.call('ZADD', inflight, tonumber(due), id)
  elseif outcome == 'uncertain' then
    redis.call('HSET', k, 'attempts', attempts, 'state', 'uncertain', 'uncertain_at', now,
               'last_error', detail)
    redis.call('RPUSH', P .. 'outbox:uncertain', id)
  elseif outcome == 'retry' then
    redis.call('HSET', k, 'attempts', attempts, 'state', 'ready', 'last_error', detail)
    redis.call('ZADD', P .. 'outbox:ready', tonumber(due), id)
  else
    redis.call('HSET', k, 'attempts', attempts, 'state', 'dead', 'last_error', detail, 'dead_at', now)
    redis.call('RPUSH', P .. 'outbox:dead', id)
  end
  return outcome .. ':' .. attempts
end

local f = {}
for v in string.gmatch(ARGV[3], '([^%z]*)%z') do f[#f + 1] = v end
for i = 1, #f - 3, 4 do
  local id, op = f[i], f[i + 1]
  if op == 'sending' and tonumber(f[i + 2]) > 0 then
    -- A reply its step leased for a moment (step.lua): the mark renews
    -- the lease until next_due_ms, unless it ran out and was claimed
    -- again meanwhile (outbox_claim.lua marks that "reclaimed").
    local k = P .. 'out:' .. id
    local h = redis.call('HMGET', k, 'owner', 'reclaimed')
    if h[1] == owner and not h[2] and redis.call('ZADD', inflight, 'XX', 'CH', f[i + 2], id) == 1 then
      if f[i + 3] ~= '' then
        redis.call('HSET', k, 'state', 'sending', 'started', now, 'dlr_token', f[i + 3])
      else
        redis.call('HSET', k, 'state', 'sending', 'started', now)
      end
      res[#res + 1] = 'ok'
    else
      res[#res + 1] = 'stale'
    end
  elseif op == 'sending' then
    -- The detail of a mark is the attempt's delivery-report token (SMS),
    -- stored before the request starts so its report can be checked
    -- (dlr.lua); each attempt brings its own.
    if f[i + 3] ~= '' then
      redis.call('HSET', P .. 'out:' .. id, 'state', 'sending', 'started', now, 'dlr_token', f[i + 3])
    else
      redis.call('HSET', P .. 'out:' .. id, 'state', 'sending', 'started', now)
    end
    res[#res + 1] = 'ok'
  else
    res[#res + 1] = record(id, op, f[i + 2], f[i + 3])
  end
end
return res
end)
