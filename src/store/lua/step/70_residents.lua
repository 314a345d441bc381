-- Residents

-- Opens a case for resident `r` ({channel, addr, masked}) from `info`
-- ({label, title, intent, text, place, route}) and queues the
-- acknowledgement and the deputy's notice.
local function open_case(r, info)
  local id = new_case_id()
  local rk = res_key(r.channel, r.addr)
  local dep, rule = route(info.route, rk)
  local p = person(dep)
  -- A concern like an open one of the same station, category and place
  -- joins its common issue (65_common.lua), with the issue's deputy.
  local m
  local cand = p and common_candidate(p.station, info.label, info.place, info.sig, id)
  if cand then
    m = cand.common ~= '' and load_common(cand.common) or nil
    local cdep = m and m.deputy or cand.deputy
    if person(cdep) then
      dep, rule, p = cdep, 'common', person(cdep)
      m = common_add(m, cand, id, info, p.station)
    else
      m = nil
    end
  end
  local c = { id = id, category = info.label, title = info.title or '' }
  -- Opened and, with a deputy, assigned at once: the case hash and its
  -- history are written in their final form, one command each.
  -- A case opens as the schema's first state, assigned at once with a deputy.
  local state = S.new
  if p then state = SCHEMA.events.assign.from[state] end
  local fields = { 'id', id, 'state', state, 'category', info.label,
    'intent', info.intent or '', 'title', c.title, 'text', info.text, 'place', info.place or '',
    'channel', r.channel, 'addr', r.addr, 'masked', r.masked or '',
    'deputy', dep or '', 'station', p and p.station or '', 'routed_by', rule or '',
    'created', nows, 'updated', nows, 'latest', p and p.name or '' }
  local hist = { cjson.encode({ ts = nows, actor = 'resident', event = 'opened', text = info.text or '' }) }
  if p then
    fields[#fields + 1] = 'clock'
    fields[#fields + 1] = nows
    hist[2] = cjson.encode({ ts = nows, actor = 'system', event = 'assigned', text = dep .. ' ' .. rule })
  end
  if m then
    fields[#fields + 1] = 'common'
    fields[#fields + 1] = m.id
  end
  if tonumber(info.confidence) then
    fields[#fields + 1] = 'confidence'
    fields[#fields + 1] = string.format('%.4g', tonumber(info.confidence))
  end
  if info.review == true then
    -- The engine was unsure of this concern: an administrator looks at
    -- it (mashangctl intents review); only the newest REVIEW_MAX are kept.
    redis.call('ZADD', K.review, nows, id)
    redis.call('ZREMRANGEBYRANK', K.review, 0, -(REVIEW_MAX + 1))
  end
  redis.call('HSET', case_key(id), unpack(fields))
  case_moved(id, nows, nil, state,
    { deputy = dep or '', station = p and p.station or '', category = info.label })
  redis.call('RPUSH', K.hist .. id, unpack(hist))
  redis.call('ZADD', K.cases, nows, id)
  redis.call('ZADD', rcases_key(r.channel, r.addr), nows, id)
  redis.call('HSET', rk, 'last_case', id, 'last_seen', nows)
  local vars = { case = id, topic = topic_of(c), category = category_name(info.label),
                 deputy = p and p.name or '', station = p and p.station_name or '',
                 text = info.text, resident = r.masked or '' }
  if p then
    c.state = state
    c.clock = tostring(nows)
    redis.call('ZADD', K.dq .. dep, nows, id)
    if m then
      -- One notice per issue as it grows; the reminders are those of
      -- its first case.
      notify(p, render('deputy_common', common_vars(m, { case = id, text = info.text })), m.id)
    else
      arm_first(id)
      notify(p, render('deputy_new', vars), id)
    end
  end
  local ack = m and render('ack_common', common_vars(m, vars)) or render('ack', vars)
  if msg.passive and r.channel == msg.channel and r.addr == msg.addr then
    reply(ack, id)
  else
    send(r.channel, r.addr, ack, id, 'reply')
  end
  return 'case_opened', id
end

local function sender() return { channel = msg.channel, addr = msg.addr, masked = msg.masked } end

local function info_from_message()
  return { label = intent.label, title = intent.title, intent = intent.name, text = msg.text,
           place = slots.place, route = env.route, confidence = intent.confidence,
           review = intent.review, sig = env.sig }
end

-- An open question to the sender (a resident's missing place, a deputy's
-- unclear command) is a session: the 'session' field of their address,
-- a timer, and an entry in a set bounded by limits.max_sessions.
-- Returns false, holding nothing, when the bound is reached.
local function hold_session(session)
  local who = msg.channel .. '|' .. msg.addr
  redis.call('ZREMRANGEBYSCORE', K.sessions, '-inf', nows)
  if redis.call('ZCARD', K.sessions) >= (tonumber(opt.max_sessions) or 10000) then return false end
  redis.call('ZADD', K.sessions, nows + opt.session_s, who)
  redis.call('HSET', RK, 'session', cjson.encode(session))
  redis.call('ZADD', K.timers, nows + opt.session_s, 'session|' .. who)
  return true
end
local function drop_session()
  local who = msg.channel .. '|' .. msg.addr
  redis.call('HDEL', RK, 'session')
  redis.call('ZREM', K.timers, 'session|' .. who)
  redis.call('ZREM', K.sessions, who)
end

-- A concern missing a slot its intent needs: ask once, remember the
-- concern, and complete it with the answer (or open it without the
-- answer when the session times out).
local function ask_for(slot)
  local info = info_from_message()
  -- Past the bound on open questions the concern is opened as it is.
  if not hold_session({ info = info, slot = slot, masked = msg.masked, ts = nows }) then
    return open_case(sender(), info)
  end
  reply(render('ask_' .. slot, {}) ~= '' and render('ask_' .. slot, {}) or render('ask_place', {}))
  return 'asked_' .. slot, nil
end

local function answer_session(raw)
  local session = cjson.decode(raw)
  local info = session.info
  drop_session()
  info[session.slot] = msg.text
  info.text = info.text .. '（' .. msg.text .. '）'
  -- The answer names the place: its area step goes first, then the
  -- concern's own plan (topic group, default).
  local plan = {}
  for _, step in ipairs(env.route or {}) do
    if step.rule == 'bound' or step.rule == 'area' then plan[#plan + 1] = step end
  end
  for _, step in ipairs(info.route or {}) do plan[#plan + 1] = step end
  info.route = plan
  return open_case(sender(), info)
end

local function expire_session(channel, addr)
  local rk = res_key(channel, addr)
  local raw = hget(rk, 'session')
  if not raw then return end
  redis.call('HDEL', rk, 'session')
  redis.call('ZREM', K.sessions, channel .. '|' .. addr)
  local session = cjson.decode(raw)
  -- A deputy's unanswered question lapses quietly: nothing was done.
  if session.deputy then return end
  open_case({ channel = channel, addr = addr, masked = session.masked }, session.info)
end

local function status()
  local ids
  if env.case then
    if not owns(load_case(env.case)) then
      reply(render('status_unknown', { case = env.case }))
      return 'status_unknown', env.case
    end
    ids = { env.case }
  else
    ids = redis.call('ZRANGE', RCASES, 0, -1)
  end
  if #ids == 0 then
    reply(render('status_none', {}))
    return 'status_none', nil
  end
  local items = {}
  for _, id in ipairs(ids) do
    local c = load_case(id)
    if c then
      items[#items + 1] = render('status_item', { case = id, topic = topic_of(c),
        state = state_name(c.state), latest = c.latest or '' })
    end
  end
  reply(render('status', { items = table.concat(items, '；') }))
  return 'status', ids[1]
end

local function rate()
  -- A row of aspect scores ("545") may read as a case number: the
  -- pending rating is what it rates.
  local id = (not env.aspects and env.case) or rk_get(RK, 'rating_case')
  local c = load_case(id)
  local r = tonumber(env.rating)
  if not owns(c) or c.state ~= S.resolved then
    reply(render('no_rating_case', {}))
    return 'no_rating_case', id
  end
  if not r then
    reply(rating_invalid_text(id))
    return 'rating_invalid', id
  end
  record_rating(c, r, env.aspects)
  redis.call('HDEL', RK, 'rating_case')
  local p = person(c.deputy)
  if r <= 2 then
    redis.call('ZREM', K.timers, 'rating|' .. id)
    set_state(c, next_state('reopen', c.state), 'resident', 'reopened', tostring(r))
    redis.call('ZADD', K.dq .. c.deputy, nows, id)
    arm_all(c)
    -- a case of a common issue reopened: the issue is open again
    if c.common and c.common ~= '' then
      local n = tonumber(redis.call('HGET', K.common .. c.common, 'count'))
      if n then redis.call('ZADD', K.commons, n, c.common) end
    end
    local vars = { case = id, rating = r, deputy = p and p.name or '' }
    reply(render('rated_low', vars), id)
    local committee = cfg('committee')
    if committee then notify(cjson.decode(committee), render('committee_low_rating', vars), id) end
    notify(p, render('committee_low_rating', vars), id)
    return 'reopened', id
  end
  set_state(c, next_state('rate', c.state), 'resident', 'rated', tostring(r))
  -- The rating timer now stands for the closed case's compaction
  -- (75_ticks.lua), once its follow-up window has passed.
  arm_compaction(id)
  redis.call('ZREM', RCASES, id)
  reply(render('rated', { case = id, rating = r }), id)
  return 'rated', id
end

local function withdraw()
  local id = env.case
  if not id then
    local open = redis.call('ZRANGE', RCASES, 0, -1)
    if #open == 1 then id = open[1] end
  end
  local c = load_case(id)
  if not owns(c) then
    reply(render('status_unknown', { case = id or '' }))
    return 'status_unknown', id
  end
  local to = allowed('withdraw', c.state)
  if not to then
    reply(render('status', { items = render('status_item', { case = id, topic = topic_of(c),
      state = state_name(c.state), latest = c.latest or '' }) }))
    return 'withdraw_refused', id
  end
  set_state(c, to, 'resident', 'withdrawn', msg.text)
  redis.call('ZREM', RCASES, id)
  if c.deputy ~= '' then redis.call('ZREM', K.dq .. c.deputy, id) end
  reply(render('withdrawn', { case = id }), id)
  notify(person(c.deputy), render('deputy_withdrawn', { case = id }), id)
  return 'withdrawn', id
end

-- The open case a message without a new concern continues: the case a
-- deputy just asked about, else the resident's latest open case, if it
-- moved within the follow-up window.
local function followup_target()
  local window = tonumber(opt.followup_s) or 0
  local relay = rk_get(RK, 'relay_case')
  local c = relay and load_case(relay)
  if c and owns(c) and nows - (tonumber(rk_get(RK, 'relay_at')) or 0) <= window and
     c.state ~= S.closed and c.state ~= S.withdrawn then
    return c, true
  end
  local ids = redis.call('ZREVRANGE', RCASES, 0, 0)
  c = ids[1] and load_case(ids[1])
  if c and SCHEMA.states[c.state] and SCHEMA.states[c.state].open and c.state ~= S.new and
     nows - (tonumber(c.updated) or 0) <= window then
    return c
  end
  return nil
end

local function followup(c, relayed)
  history(c.id, 'resident', 'followup', msg.text)
  redis.call('HSET', case_key(c.id), 'updated', nows)
  redis.call('HDEL', RK, 'relay_case', 'relay_at')
  local p = person(c.deputy)
  local vars = { case = c.id, text = msg.text, topic = topic_of(c), resident = c.masked,
                 deputy = p and p.name or '' }
  notify(p, render(relayed and 'relay_to_deputy' or 'followup_to_deputy', vars), c.id)
  reply(render('followup', vars), c.id)
  return 'followup', c.id
end

-- A message with no words (emoji only, empty after normalisation) is no
-- thanks, no rating and no answer to a question, whatever the engine
-- made of it: a case awaiting a rating is asked for the rating again, an
-- open case gets a request for words, anyone else the help text.
local function wordless()
  local rid = hget(RK, 'rating_case')
  local c = load_case(rid)
  if owns(c) and c.state == S.resolved then
    reply(rating_invalid_text(rid), rid)
    return 'wordless', rid
  end
  local ids = redis.call('ZREVRANGE', RCASES, 0, 0)
  c = ids[1] and load_case(ids[1])
  if c and SCHEMA.states[c.state] and SCHEMA.states[c.state].open then
    local p = person(c.deputy)
    reply(render('words_needed', { case = c.id, topic = topic_of(c), deputy = p and p.name or '' }), c.id)
    return 'wordless', c.id
  end
  reply(render('help', {}))
  return 'wordless', nil
end

local function resident()
  local label = intent.label
  redis.call('HSET', RK, 'last_seen', nows)
  if env.empty then return wordless() end
  rk_load()
  local session = rk_cache.session
  if session and intent.kind ~= 'chat' then
    return answer_session(session)
  end
  -- A row of aspect scores ("545") is a rating whatever the engine made
  -- of it; an answer to the 回头看 question goes to its case.
  if env.aspects and rk_cache.rating_case then return rate() end
  local revisit = revisit_pending()
  if revisit then
    local action, id = answer_revisit(revisit, tonumber(env.revisit))
    if action then return action, id end
  end
  if intent.kind == 'chat' then
    if label == 'chat.reception' then return reception() end
    if label == 'chat.status' then return status() end
    if label == 'chat.rating' then return rate() end
    if label == 'chat.withdraw' then return withdraw() end
    if label == 'chat.thanks' then
      reply(render('thanks', {}))
      return 'thanks', nil
    end
    if label == 'chat.optout' then
      redis.call('HSET', RK, 'optout', '1')
      reply(render('unsubscribed', {}))
      return 'optout', nil
    end
    if label == 'chat.optin' then
      redis.call('HDEL', RK, 'optout')
      reply(render('subscribed', {}))
      return 'optin', nil
    end
    reply(render('help', {}))
    return 'help', nil
  end
  -- Not a concern — or an unsure one right after the deputy asked this
  -- resident something, which is the answer ("门口那盏"), or so unsure it
  -- would be flagged for review while the resident's case is fresh
  -- ("补充：就在小卖部旁边"): the case goes on.
  if intent.kind ~= 'concern' or intent.certain == false then
    local c, relayed = followup_target()
    if c and (relayed or intent.kind ~= 'concern' or intent.review) then
      return followup(c, relayed)
    end
  end
  for _, need in ipairs(intent.needs or {}) do
    if not slots[need] or slots[need] == '' then return ask_for(need) end
  end
  return open_case(sender(), info_from_message())
end

