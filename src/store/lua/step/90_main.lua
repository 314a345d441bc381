
-- Limits on what one resident can make us do: a flood is answered once
-- politely and kept for the record; the same text over and over (an
-- auto-responder talking to us) is ignored.
local function limited()
  local lk = P .. 'loopin:' .. msg.channel .. ':' .. msg.addr .. ':' .. redis.sha1hex(msg.text)
  local n = count_use(lk, 300)
  -- The same words over and over are an auto-responder (a greeting or a
  -- thanks as much as a concern); only asking for progress or giving a
  -- rating again is something a person repeats.
  if n > 3 and intent.label ~= 'chat.status' and intent.label ~= 'chat.rating' then
    return 'loop_ignored'
  end
  local limit = tonumber(opt.sender_per_minute) or 0
  if limit > 0 then
    local rk = P .. 'rate:' .. msg.channel .. ':' .. msg.addr .. ':' .. math.floor(nows / 60)
    local n = count_use(rk, 120)
    if n > limit then
      local keep = K.limited .. msg.channel .. ':' .. msg.addr
      redis.call('RPUSH', keep, cjson.encode({ ts = nows, text = msg.text }))
      redis.call('LTRIM', keep, -100, -1)
      if n == limit + 1 then reply(render('rate_limited', {})) end
      return 'rate_limited'
    end
  end
  return nil
end

-- Deputies who left the roster: their open cases go to their station's
-- liaison (else the default liaison), and the committee is told.
local function reroute()
  local moved = 0
  for _, gone in ipairs(env.removed or {}) do
    for _, id in ipairs(redis.call('ZRANGE', K.dq .. gone, 0, -1)) do
      local c = load_case(id)
      if c and c.deputy == gone then
        local st = station(c.station)
        local target = st and st.liaison
        if not target or target == '' or target == gone or not person(target) then target = env.fallback end
        if target and person(target) and transfer(c, target, 'system', 'roster') == 'transferred' then
          moved = moved + 1
          local tp = person(target)
          notify(committee(), render('committee_rerouted', { case = id, from = gone,
            deputy = tp.name, topic = topic_of(c) }), id)
        end
      end
    end
  end
  return 'rerouted', tostring(moved)
end

-- What the message (or the mode) asks for: the action and its case.
local function dispatch()
  if env.mode == 'tick' then return tick() end
  if env.mode == 'reroute' then return reroute() end
  if env.mode == 'common' then return common_by_hand() end
  if env.mode == 'assign' then
    local c = load_case(env.case)
    if not c then return 'unknown_case', env.case end
    return transfer(c, env.target, env.actor, env.note), env.case
  end
  if env.mode == 'withdraw' then
    local c = load_case(env.case)
    if not c then return 'unknown_case', env.case end
    return admin_withdraw(c, env.actor, env.note), env.case
  end
  if env.role == 'deputy' then
    note_deputy_channel(env.deputy)
    return deputy()
  end
  local limit = limited()
  if limit then return limit end
  return resident()
end

-- The function <library>_step: one FCALL a message.
local function step(keys, args)
  keys_bind(keys[1])
  agg_begin()
  local dup = step_begin(keys, args)
  if dup then return dup end
  if not first_read() then return { 'nocfg', '', 0, '' } end
  local action, case_id = dispatch()
  local passive_text = ''
  if msg.passive then
    -- Updates that could not be pushed wait for the resident's next message.
    local held_key = K.held .. msg.channel .. ':' .. msg.addr
    local held = redis.call('LRANGE', held_key, 0, -1)
    if #held > 0 then
      redis.call('DEL', held_key)
      for _, t in ipairs(passive) do held[#held + 1] = t end
      passive = held
    end
    passive_text = table.concat(passive, '\n')
  end
  if seen then
    local v = action .. ' ' .. (case_id or '')
    if passive_text ~= '' then v = v .. '\n' .. passive_text end
    redis.call('SET', seen, v, 'EX', seen_ttl or opt.dedupe_s)
  end
  flush_outbox()
  if looped > 0 then action = action .. ':loop_stopped' end
  if #leased > 0 then return { action, case_id or '', outn, passive_text, leased } end
  return { action, case_id or '', outn, passive_text }
end
register('step', step)
