-- More sends of one text to one address within 300 s are a reply loop.
local LOOP_MAX = 5
-- Outbox entries are written after the work: one INCRBY for their ids
-- and one ZADD for the queue, whatever their number.  The daemon may
-- take the first env.lease.max of them at once (src/core/outbox.c
-- outbox_reserve): they go straight into its lease as outbox_claim.lua
-- would put them (state claimed, owner, outbox:inflight until expires)
-- and come back with the answer - id, channel, to, text, case, attempts
-- each, as strings, the answer's fifth element - instead of waiting for a
-- claim.
local function flush_outbox()
  if #outq == 0 then return end
  local last = redis.call('INCRBY', K.seq_out, #outq)
  local lease = env.lease
  local take = lease and tonumber(lease.max) or 0
  local ready, inflight = {}, {}
  for i, o in ipairs(outq) do
    local oid = last - #outq + i
    if i <= take then
      redis.call('HSET', K.out .. oid, 'channel', o[1], 'to', o[2], 'text', o[3],
        'case', o[4], 'kind', o[5], 'attempts', 0, 'created', now, 'state', 'claimed',
        'owner', lease.owner)
      inflight[#inflight + 1] = tonumber(lease.expires)
      inflight[#inflight + 1] = oid
      for _, v in ipairs({ tostring(oid), o[1], o[2], o[3], o[4], '0' }) do leased[#leased + 1] = v end
    else
      redis.call('HSET', K.out .. oid, 'channel', o[1], 'to', o[2], 'text', o[3],
        'case', o[4], 'kind', o[5], 'attempts', 0, 'created', now, 'state', 'ready')
      ready[#ready + 1] = now
      ready[#ready + 1] = oid
    end
  end
  if #ready > 0 then redis.call('ZADD', K.outbox_ready, unpack(ready)) end
  if #inflight > 0 then redis.call('ZADD', K.outbox_inflight, unpack(inflight)) end
end
local function send(channel, addr, text, case_id, kind)
  if not channel or channel == '' or not addr or addr == '' or text == '' then return end
  -- 退订: a resident who opted out gets only answers to their own messages.
  if kind == 'push' and redis.call('HGET', K.res .. channel .. ':' .. addr, 'optout') == '1' then
    return
  end
  -- The same text to the same address again and again is a reply loop
  -- (another bot answering us): stop it, and say so in the reply.
  local lk = P .. 'loopout:' .. channel .. ':' .. addr .. ':' .. redis.sha1hex(text)
  local n = count_use(lk, 300)
  if n > LOOP_MAX then
    looped = looped + 1
    return
  end
  outq[#outq + 1] = { channel, addr, text, case_id or '', kind }
  outn = outn + 1
end
-- The call's outbox state lives in 00_env.lua: outq (queued), leased,
-- outn, looped.  On channels that answer in the HTTP response
-- (msg.passive), replies to the sender are returned instead of queued:
-- `passive`.  While a command works through the cases of a common issue one by one
-- (80_deputies.lua), `hush.on` keeps the deputies' answers and notices
-- of each case back: they get one for the issue instead.
local function reply(text, case_id)
  if hush.on then return end
  if msg.passive then
    if text ~= '' then passive[#passive + 1] = text end
    return
  end
  send(msg.channel, msg.addr, text, case_id, 'reply')
end
-- A push to the resident of case `c` that they did not ask for.
local function push(c, text) send(c.channel, c.addr, text, c.id, 'push') end
