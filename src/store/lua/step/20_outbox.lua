local outn = 0
-- More sends of one text to one address within 300 s are a reply loop.
local LOOP_MAX = 5
local looped = 0
-- Outbox entries are written after the work: one INCRBY for their ids
-- and one ZADD for the queue, whatever their number.
local outq = {}
local function flush_outbox()
  if #outq == 0 then return end
  local last = redis.call('INCRBY', K.seq_out, #outq)
  local zargs = {}
  for i, o in ipairs(outq) do
    local oid = last - #outq + i
    redis.call('HSET', K.out .. oid, 'channel', o[1], 'to', o[2], 'text', o[3],
      'case', o[4], 'kind', o[5], 'attempts', 0, 'created', now, 'state', 'ready')
    zargs[#zargs + 1] = now
    zargs[#zargs + 1] = oid
  end
  redis.call('ZADD', K.outbox_ready, unpack(zargs))
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
-- On channels that answer in the HTTP response (msg.passive), replies to
-- the sender are returned instead of queued.
local passive = {}
local function reply(text, case_id)
  if msg.passive then
    if text ~= '' then passive[#passive + 1] = text end
    return
  end
  send(msg.channel, msg.addr, text, case_id, 'reply')
end
-- A push to the resident of case `c` that they did not ask for.
local function push(c, text) send(c.channel, c.addr, text, c.id, 'push') end
