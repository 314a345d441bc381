-- Records a delivery report for an outbox message.
-- KEYS[1] prefix; ARGV: id, kannel dlr type, now_ms, token
-- The token is the random one outbox_result.lua stored with the message
-- when its send started: ids are sequential, so a report naming only an
-- id could be forged.  A wrong token is answered like an unknown id.
--@use settle
-- Kannel's report types.
local DLR_NAMES = { [1] = 'delivered', [2] = 'failed', [4] = 'buffered', [8] = 'accepted', [16] = 'failed' }
-- The function <library>_dlr: KEYS and ARGV are the FCALL's.
register('dlr', function(KEYS, ARGV)
local P = KEYS[1]
local k = P .. 'out:' .. ARGV[1]
local tok = redis.call('HGET', k, 'dlr_token')
if not tok or tok ~= ARGV[4] then return 'unknown' end
local st = DLR_NAMES[tonumber(ARGV[2]) or 0] or ('type' .. ARGV[2])
-- Reports arrive in any order: a final answer is never overwritten by
-- an intermediate one.
local cur = redis.call('HGET', k, 'dlr')
if (cur == 'delivered' or cur == 'failed') and st ~= 'delivered' and st ~= 'failed' then
  return cur
end
redis.call('HSET', k, 'dlr', st, 'dlr_at', ARGV[3])
-- A send that timed out waits for this report (outbox_result.lua
-- "awaiting"): the gateway had it, so it is settled as sent now.
local state = redis.call('HGET', k, 'state')
if state == 'sending' and redis.call('HEXISTS', k, 'awaiting') == 1 then
  redis.call('ZREM', P .. 'outbox:inflight', ARGV[1])
  redis.call('HSET', k, 'state', 'sent', 'sent_at', ARGV[3], 'detail', 'delivery report')
  state = 'sent'
end
-- A sent message whose report is final needs nothing more (lib/settle.lua).
if state == 'sent' or state == 'held' then out_settled(k, tok, st) end
return st
end)
