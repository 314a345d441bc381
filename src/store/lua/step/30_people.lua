-- Where a deputy is reached: the channel and address their last message
-- came from ({ns}:deputy:<id>), while the roster still lists that address
-- as theirs on that channel (p.via, published only for deputies who can
-- be reached more than one way); else the roster's first choice.  Read
-- once per deputy per run; nothing is read for a deputy without a choice.
local function deputy_key(id) return K.deputy .. id end
local function last_via(id)
  if via_cache[id] == nil then
    local v = redis.call('HMGET', deputy_key(id), 'channel', 'addr')
    via_cache[id] = { v[1] or '', v[2] or '' }
  end
  return via_cache[id]
end
local function reach(p)
  if p.id and p.via then
    local v = last_via(p.id)
    if v[1] ~= '' and p.via[v[1]] == v[2] then return v[1], v[2] end
  end
  return p.channel, p.addr
end
-- A deputy's message: remember its channel when it is one the roster
-- allows and differs from the one stored (one HSET, only on a change).
local function note_deputy_channel(id)
  local p = person(id)
  if not p or not p.via or p.via[msg.channel] ~= msg.addr then return end
  local v = last_via(id)
  if v[1] ~= msg.channel or v[2] ~= msg.addr then
    redis.call('HSET', deputy_key(id), 'channel', msg.channel, 'addr', msg.addr, 'since', nows)
    via_cache[id] = { msg.channel, msg.addr }
  end
end
local function notify(p, text, case_id)
  if not p or hush.on then return end
  local channel, addr = reach(p)
  send(channel, addr, text, case_id, 'notify')
end

