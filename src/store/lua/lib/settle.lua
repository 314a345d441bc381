-- How long an outbound message's hash (K.out .. id) stays once its
-- send is settled.  Nothing reads a settled message but a delivery
-- report, which names it by id and token (dlr.lua):
--   no report expected (no dlr_token): deleted at once;
--   report expected, none final yet: kept DLR_WAIT_S, the time a
--     report may take (an SMSC retries a phone that is off for up to
--     two days); a report that never came leaves nothing behind;
--   final report (delivered/failed) in: kept SETTLED_S, so that a
--     report Kannel repeats is still recognised, then gone.
-- Dead letters and uncertain messages are not settled: they stay until
-- an administrator acts (admin.lua).  Needs nothing but redis.
local DLR_WAIT_S = 172800
local SETTLED_S = 3600

-- `k` was just recorded sent (or held); `tok` its dlr_token, `dlr` its
-- report so far (HMGET'd by the caller, nil when none).
local function out_settled(k, tok, dlr)
  if not tok then
    redis.call('DEL', k)
  elseif dlr == 'delivered' or dlr == 'failed' then
    redis.call('EXPIRE', k, SETTLED_S)
  else
    redis.call('EXPIRE', k, DLR_WAIT_S)
  end
end
