-- WeChat channel state (src/channels/wechat/wechat.c, src/channels/wechat/wechat_send.c): event dedupe
-- and 代表码 binding, the shared access-token cache and its refresh lock,
-- the customer-service window counters, and held updates.
--
-- KEYS[1] is the prefix "{ns}:"; ARGV[1] the operation.  `res` arguments
-- are "<channel>:<addr>" (the resident as step.lua names it), `acct` the
-- account name.  Keys (docs/redis.md):
--   {ns}:res:<channel>:<addr>      hash: bound, last_seen (step.lua),
--                                  cs_since, cs_count, unsubscribed, phone
--   {ns}:wxev:<channel>:<addr>:<CreateTime>:<event>   event dedupe (EX)
--   {ns}:wxtoken:<acct>            cached access_token (EX a bit under expires_in)
--   {ns}:wxtoken:<acct>:lock       refresh lock, value = instance (PX)
--   {ns}:wxtoken:<acct>:bad        last token WeChat rejected (EX 600)
--   {ns}:held:<channel>:<addr>     list of texts for the next passive reply
--@use render
-- The function <library>_wechat: KEYS and ARGV are the FCALL's; all of
-- the script below runs at each call.
register('wechat', function(KEYS, ARGV)
local P = KEYS[1]
local op = ARGV[1]

local function tok(acct) return P .. 'wxtoken:' .. acct end
local function val(v) if v == false or v == nil then return '' end return v end

-- event res dedupe_suffix ttl event deputy now template [name value]...
--   -> { 'new' | 'duplicate', the welcome text }
-- The welcome is `template` (a text of the configuration) rendered with
-- the name/value pairs by the renderer of every reply (lib/render.lua);
-- a retried event gets it again.
if op == 'event' then
  local res, suffix, ttl, event, deputy, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
  local vars = {}
  for i = 9, #ARGV - 1, 2 do vars[ARGV[i]] = ARGV[i + 1] end
  local welcome = render_text(ARGV[8] or '', vars)
  if not redis.call('SET', P .. 'wxev:' .. suffix, now, 'NX', 'EX', tonumber(ttl)) then
    return { 'duplicate', welcome }
  end
  local rk = P .. 'res:' .. res
  if event == 'unsubscribe' then
    redis.call('HSET', rk, 'unsubscribed', now)
  else
    if event == 'subscribe' then redis.call('HDEL', rk, 'unsubscribed') end
    if deputy ~= '' then redis.call('HSET', rk, 'bound', deputy, 'bound_at', now) end
  end
  return { 'new', welcome }
end

-- prep acct res -> { token, bad_token, last_seen, cs_since, cs_count, phone }
if op == 'prep' then
  local acct, res = ARGV[2], ARGV[3]
  local h = redis.call('HMGET', P .. 'res:' .. res, 'last_seen', 'cs_since', 'cs_count', 'phone')
  return { val(redis.call('GET', tok(acct))), val(redis.call('GET', tok(acct) .. ':bad')),
           val(h[1]), val(h[2]), val(h[3]), val(h[4]) }
end

-- lock acct owner px -> 1 when this instance may refresh the token
if op == 'lock' then
  if redis.call('SET', tok(ARGV[2]) .. ':lock', ARGV[3], 'NX', 'PX', tonumber(ARGV[4])) then
    return 1
  end
  return 0
end

-- store_token acct owner token ttl_s: cache it and release our lock
if op == 'store_token' then
  local acct, owner, token, ttl = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
  redis.call('SET', tok(acct), token, 'EX', ttl)
  if redis.call('GET', tok(acct) .. ':lock') == owner then redis.call('DEL', tok(acct) .. ':lock') end
  return 1
end

-- unlock acct owner
if op == 'unlock' then
  if redis.call('GET', tok(ARGV[2]) .. ':lock') == ARGV[3] then redis.call('DEL', tok(ARGV[2]) .. ':lock') end
  return 1
end

-- tok_bad acct token: WeChat refused `token`; drop it unless another
-- instance has already replaced it, and remember it so a refresh that
-- hands back the same value forces a new one.
if op == 'tok_bad' then
  local acct, token = ARGV[2], ARGV[3]
  if redis.call('GET', tok(acct)) == token then redis.call('DEL', tok(acct)) end
  redis.call('SET', tok(acct) .. ':bad', token, 'EX', 600)
  return 1
end

-- cs_sent res: one more customer-service message since the resident's
-- last message (a newer last_seen restarts the count).
-- cs_closed res limit: WeChat said the window is closed or used up.
-- Without a known last message there is no window to count in: WeChat
-- decides each time.
if op == 'cs_sent' or op == 'cs_closed' then
  local rk = P .. 'res:' .. ARGV[2]
  local h = redis.call('HMGET', rk, 'last_seen', 'cs_since')
  local since = val(h[1])
  if since == '' then return 0 end
  if op == 'cs_closed' then
    redis.call('HSET', rk, 'cs_since', since, 'cs_count', ARGV[3])
  elseif h[2] ~= since then
    redis.call('HSET', rk, 'cs_since', since, 'cs_count', 1)
  else
    redis.call('HINCRBY', rk, 'cs_count', 1)
  end
  return 1
end

-- hold res text cap: kept for the next passive reply (step.lua)
if op == 'hold' then
  local k = P .. 'held:' .. ARGV[2]
  redis.call('RPUSH', k, ARGV[3])
  redis.call('LTRIM', k, -tonumber(ARGV[4]), -1)
  return redis.call('LLEN', k)
end

return redis.error_reply('wechat.lua: unknown op ' .. tostring(op))
end)
