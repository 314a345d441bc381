-- One inbound message, handled atomically: dedupe, the case work it asks
-- for, and every reply it causes, queued in the durable outbox.
--
-- KEYS[1] is the key prefix "{ns}:" (one hash tag, so the script stays
-- valid on Redis Cluster).  ARGV[1] is the envelope built by the daemon
-- (src/core/step.c): the message, who sent it, the matched intent, the
-- routing plan and the lifecycle transitions allowed for this intent.
-- Reply texts, category names and the roster directory are read from
-- the "{ns}:cfg:<digest>" hash the daemon writes at start and reload.
--
-- Nothing may fail after the first write: inputs are checked first.
local P = KEYS[1]
local env = cjson.decode(ARGV[1])
local now = tonumber(env.now)
local nows = math.floor(now / 1000)
local msg = env.msg or {}
local intent = env.intent or {}
local slots = intent.slots or {}
local opt = env.opt
local CFG = P .. 'cfg:' .. env.cfg

-- Dedupe: on the platform's message id, else on sender + text briefly.
local seen, seen_ttl
if env.mode then   -- tick, assign: not a message
  seen = nil
elseif msg.id and msg.id ~= '' then
  seen = P .. 'seen:' .. msg.channel .. ':' .. msg.id
  seen_ttl = opt.dedupe_s
else
  seen = P .. 'seen:' .. msg.channel .. ':' .. msg.addr .. ':' .. redis.sha1hex(msg.text)
  seen_ttl = 10
end
if seen then
  local prev = redis.call('GET', seen)
  if prev then
    -- A retried push gets the same passive reply it was owed.
    local sep = string.find(prev, '\n', 1, true)
    if sep then return { 'duplicate', string.sub(prev, 1, sep - 1), 0, string.sub(prev, sep + 1) } end
    return { 'duplicate', prev, 0, '' }
  end
end

local function hget(k, f)
  local v = redis.call('HGET', k, f)
  if v == false then return nil end
  return v
end

-- Reads of the cfg hash are cached for the script's run; fields that the
-- run will likely need are fetched together with one HMGET.
local cfg_cache = {}
local function cfg_prefetch(fields)
  local want = {}
  for _, f in ipairs(fields) do
    if cfg_cache[f] == nil then want[#want + 1] = f end
  end
  if #want == 0 then return end
  local vals = redis.call('HMGET', CFG, unpack(want))
  for i, f in ipairs(want) do cfg_cache[f] = vals[i] or false end
end
local function cfg(field)
  local v = cfg_cache[field]
  if v == nil then
    v = hget(CFG, field) or false
    cfg_cache[field] = v
  end
  return v or nil
end

-- Without the directory no reply could be worded: the daemon republishes
-- it and tries again (Redis was flushed or restarted without its data).
-- "committee" is always published, so its absence means no directory; the
-- same HMGET brings what opening a case (the common path) words.
local first = { 'committee' }
if not env.mode and env.role ~= 'deputy' and intent.kind ~= 'chat' then
  first[#first + 1] = 't:ack'
  first[#first + 1] = 't:deputy_new'
  if intent.label then first[#first + 1] = 'c:' .. intent.label end
end
cfg_prefetch(first)
if not cfg_cache.committee then
  return { 'nocfg', '', 0, '' }
end

-- Counts uses of `key` within `ttl` seconds (INCR, expiring from the first
-- use).  A first use, the common case, costs one command.
local function count_use(key, ttl)
  if redis.call('SET', key, 1, 'EX', ttl, 'NX') then return 1 end
  return redis.call('INCR', key)
end

local function render(key, vars)
  local t = cfg('t:' .. key) or ''
  return (string.gsub(t, '{([%w_%.]+)}', function(name)
    local v = vars[name]
    if v == nil then return '' end
    return tostring(v)
  end))
end

local people = {}
local function person(id)
  if not id or id == '' then return nil end
  if people[id] == nil then
    local j = cfg('d:' .. id)
    people[id] = j and cjson.decode(j) or false
    if people[id] then people[id].id = id end
  end
  return people[id] or nil
end

-- A word for an internal name (action.*, state.*, level.*, rule.*): never
-- the internal name itself, which is English and meant for machines.
local function word(key) return cfg('t:' .. key) or '' end
local function category_name(label) return cfg('c:' .. label) or cfg('c:other') or '' end
local function state_name(s) return word('state.' .. s) end

local outn = 0
local looped = 0
-- Outbox entries are written after the work: one INCRBY for their ids
-- and one ZADD for the queue, whatever their number.
local outq = {}
local function flush_outbox()
  if #outq == 0 then return end
  local last = redis.call('INCRBY', P .. 'seq:out', #outq)
  local zargs = {}
  for i, o in ipairs(outq) do
    local oid = last - #outq + i
    redis.call('HSET', P .. 'out:' .. oid, 'channel', o[1], 'to', o[2], 'text', o[3],
      'case', o[4], 'kind', o[5], 'attempts', 0, 'created', now, 'state', 'ready')
    zargs[#zargs + 1] = now
    zargs[#zargs + 1] = oid
  end
  redis.call('ZADD', P .. 'outbox:ready', unpack(zargs))
end
local function send(channel, addr, text, case_id, kind)
  if not channel or channel == '' or not addr or addr == '' or text == '' then return end
  -- 退订: a resident who opted out gets only answers to their own messages.
  if kind == 'push' and redis.call('HGET', P .. 'res:' .. channel .. ':' .. addr, 'optout') == '1' then
    return
  end
  -- The same text to the same address again and again is a reply loop
  -- (another bot answering us): stop it, and say so in the reply.
  local lk = P .. 'loopout:' .. channel .. ':' .. addr .. ':' .. redis.sha1hex(text)
  local n = count_use(lk, 300)
  if n > (tonumber(opt.loop_max) or 5) then
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
-- Where a deputy is reached: the channel and address their last message
-- came from ({ns}:deputy:<id>), while the roster still lists that address
-- as theirs on that channel (p.via, published only for deputies who can
-- be reached more than one way); else the roster's first choice.  Read
-- once per deputy per run; nothing is read for a deputy without a choice.
local via_cache = {}
local function deputy_key(id) return P .. 'deputy:' .. id end
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
  if not p then return end
  local channel, addr = reach(p)
  send(channel, addr, text, case_id, 'notify')
end

local function case_key(id) return P .. 'case:' .. id end
local function load_case(id)
  if not id or id == '' then return nil end
  local h = redis.call('HGETALL', case_key(id))
  if #h == 0 then return nil end
  local c = {}
  for i = 1, #h, 2 do c[h[i]] = h[i + 1] end
  return c
end
local function history(id, actor, event, text)
  redis.call('RPUSH', P .. 'hist:' .. id,
    cjson.encode({ ts = nows, actor = actor, event = event, text = text or '' }))
end
local function set_state(c, to, actor, event, text)
  c.state = to
  redis.call('HSET', case_key(c.id), 'state', to, 'updated', nows)
  history(c.id, actor, event, text)
end
local function allowed(ev, state)
  local tr = env.tr and env.tr[ev]
  if not tr then return nil end
  for _, s in ipairs(tr.from) do
    -- No "to": the event keeps the state (escalation).
    if s == state then return tr.to or state end
  end
  return nil
end
local function topic_of(c)
  if c.title and c.title ~= '' then return c.title end
  return category_name(c.category)
end

local function res_key(channel, addr) return P .. 'res:' .. channel .. ':' .. addr end
local function rcases_key(channel, addr) return P .. 'rcases:' .. channel .. ':' .. addr end
local RK = msg.channel and res_key(msg.channel, msg.addr)
local RCASES = msg.channel and rcases_key(msg.channel, msg.addr)
local TIMERS = P .. 'timers'

-- The sender's resident fields a message may read, fetched at once.  Only
-- fields this script never writes before reading them are cached.
local RK_FIELDS = { 'session', 'relay_case', 'relay_at', 'bound' }
local rk_cache = nil
local function rk_load()
  local vals = redis.call('HMGET', RK, unpack(RK_FIELDS))
  rk_cache = {}
  for i, f in ipairs(RK_FIELDS) do rk_cache[f] = vals[i] or nil end
end
local function rk_get(rk, f)
  if rk == RK and rk_cache then return rk_cache[f] end
  return hget(rk, f)
end

-- Deadlines (contract §7).  Each kind runs on the case's `clock` (set at
-- assignment, transfer and reopening) through phases: half-way and
-- deadline reminders, then escalation to the station liaison and, later
-- still, to the committee.  Only the next phase is ever scheduled; a
-- timer whose clock no longer matches the case's is stale and dropped.
local DEADLINES = { 'accept', 'progress', 'resolve' }
local PHASES = { half = 0.5, due = 1.0, over = 1.5, over2 = 2.0 }
local NEXT_PHASE = { half = 'due', due = 'over', over = 'over2' }
local function arm(id, kind, phase, clock)
  local w = tonumber(opt[kind .. '_s']) or 0
  if w <= 0 then return end
  redis.call('ZADD', TIMERS, clock + math.floor(w * PHASES[phase]),
    'case|' .. id .. '|' .. kind .. '|' .. phase .. '|' .. clock)
end
-- The first phase of every deadline, in one ZADD.
local function arm_first(id)
  local zargs = {}
  for _, kind in ipairs(DEADLINES) do
    local w = tonumber(opt[kind .. '_s']) or 0
    if w > 0 then
      zargs[#zargs + 1] = nows + math.floor(w * PHASES.half)
      zargs[#zargs + 1] = 'case|' .. id .. '|' .. kind .. '|half|' .. nows
    end
  end
  if #zargs > 0 then redis.call('ZADD', TIMERS, unpack(zargs)) end
end
local function arm_all(c)
  c.clock = tostring(nows)
  redis.call('HSET', P .. 'case:' .. c.id, 'clock', nows)
  arm_first(c.id)
end
local function owns(c) return c and c.channel == msg.channel and c.addr == msg.addr end

-- Routing: walk the daemon's plan; several candidates -> fewest open.
local function fewest(list)
  local best, best_n
  local want = {}
  for _, d in ipairs(list or {}) do
    if d ~= '' and people[d] == nil then want[#want + 1] = 'd:' .. d end
  end
  cfg_prefetch(want)
  for _, d in ipairs(list or {}) do
    if person(d) then
      local n = redis.call('ZCARD', P .. 'dq:' .. d)
      if best == nil or n < best_n then best, best_n = d, n end
    end
  end
  return best
end
local function route(plan, rk)
  for _, step in ipairs(plan or {}) do
    if step.rule == 'binding' then
      local b = rk_get(rk, 'bound')
      if b and person(b) then return b, 'binding' end
    else
      local pick = nil
      if step.duty and #step.duty > 0 then pick = fewest(step.duty) end
      if not pick then pick = fewest(step.d) end
      if pick then return pick, step.rule end
    end
  end
  return nil, nil
end

local REVIEW_MAX = 1000

local function new_case_id()
  local n = redis.call('INCR', P .. 'seq:case')
  if n < 1001 then n = redis.call('INCRBY', P .. 'seq:case', 1001 - n) end
  return opt.prefix .. n
end

---------------------------------------------------------------------------
-- Case work shared by deputies, administrators and timers

local function committee() local j = cfg('committee'); return j and cjson.decode(j) or nil end
local function station(id)
  local j = id and id ~= '' and cfg('s:' .. id)
  return j and cjson.decode(j) or nil
end

-- Hands case `c` to deputy `target`.  Returns an action name; on success
-- the new deputy, the previous one and the resident are told.
local function transfer(c, target, actor, note)
  local tp = person(target)
  if not tp then return 'unknown_deputy' end
  local to = allowed('transfer', c.state)
  if not to then return 'bad_state' end
  if target == c.deputy then return 'same_deputy' end
  local old = c.deputy
  local op = person(old)
  if old ~= '' then redis.call('ZREM', P .. 'dq:' .. old, c.id) end
  redis.call('ZADD', P .. 'dq:' .. target, nows, c.id)
  redis.call('HSET', case_key(c.id), 'deputy', target, 'station', tp.station or '',
    'routed_by', 'transfer', 'latest', tp.name)
  c.deputy = target
  set_state(c, to, actor, 'transferred', (old ~= '' and old or '-') .. ' -> ' .. target ..
    (note and note ~= '' and (' ' .. note) or ''))
  arm_all(c)
  local vars = { case = c.id, deputy = tp.name, station = tp.station_name or '',
    from = op and op.name or '', text = c.text, note = note or '', topic = topic_of(c),
    category = category_name(c.category), resident = c.masked }
  notify(tp, render('deputy_transferred_in', vars), c.id)
  if actor ~= old then notify(op, render('deputy_transferred_out', vars), c.id) end
  push(c, render('transferred', vars))
  return 'transferred'
end

-- Sends case `c` up one level (station liaison, then committee), or to
-- at least `min_level`.  Returns the level reached, or nil if already there.
local function escalate(c, actor, note, min_level)
  local level = tonumber(c.escalated) or 0
  local target = min_level or level + 1
  if target <= level then return nil end
  local dp = person(c.deputy)
  local to
  if target == 1 then
    local st = station(dp and dp.station or c.station)
    local liaison = st and st.liaison
    if liaison and liaison ~= '' and liaison ~= c.deputy then
      to = person(liaison)
    else
      target = 2   -- the deputy is the liaison: straight to the committee
    end
  end
  if target >= 2 then
    target = 2
    to = committee()
  end
  if target <= level then return nil end
  redis.call('HSET', case_key(c.id), 'escalated', target)
  c.escalated = tostring(target)
  history(c.id, actor, 'escalated', (target == 1 and 'station' or 'committee') ..
    (note and note ~= '' and (' ' .. note) or ''))
  notify(to, render('escalation', { case = c.id, topic = topic_of(c), text = c.text,
    category = category_name(c.category),
    deputy = dp and dp.name or '', note = note or '', state = state_name(c.state),
    age = math.floor((nows - tonumber(c.created)) / 3600) .. '小时' }), c.id)
  return target
end

---------------------------------------------------------------------------
-- Residents

-- Opens a case for resident `r` ({channel, addr, masked}) from `info`
-- ({label, title, intent, text, place, route}) and queues the
-- acknowledgement and the deputy's notice.
local function open_case(r, info)
  local id = new_case_id()
  local rk = res_key(r.channel, r.addr)
  local dep, rule = route(info.route, rk)
  local p = person(dep)
  local c = { id = id, category = info.label, title = info.title or '' }
  -- Opened and, with a deputy, assigned at once: the case hash and its
  -- history are written in their final form, one command each.
  local fields = { 'id', id, 'state', p and 'assigned' or 'new', 'category', info.label,
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
  if tonumber(info.confidence) then
    fields[#fields + 1] = 'confidence'
    fields[#fields + 1] = string.format('%.4g', tonumber(info.confidence))
  end
  if info.review == true then
    -- The engine was unsure of this concern: an administrator looks at
    -- it (mashangctl intents review); only the newest REVIEW_MAX are kept.
    redis.call('ZADD', P .. 'review', nows, id)
    redis.call('ZREMRANGEBYRANK', P .. 'review', 0, -(REVIEW_MAX + 1))
  end
  redis.call('HSET', case_key(id), unpack(fields))
  redis.call('RPUSH', P .. 'hist:' .. id, unpack(hist))
  redis.call('ZADD', P .. 'cases', nows, id)
  redis.call('ZADD', rcases_key(r.channel, r.addr), nows, id)
  redis.call('HSET', rk, 'last_case', id, 'last_seen', nows)
  local vars = { case = id, topic = topic_of(c), category = category_name(info.label),
                 deputy = p and p.name or '', station = p and p.station_name or '',
                 text = info.text, resident = r.masked or '' }
  if p then
    c.state = 'assigned'
    c.clock = tostring(nows)
    redis.call('ZADD', P .. 'dq:' .. dep, nows, id)
    arm_first(id)
    notify(p, render('deputy_new', vars), id)
  end
  if msg.passive and r.channel == msg.channel and r.addr == msg.addr then
    reply(render('ack', vars), id)
  else
    send(r.channel, r.addr, render('ack', vars), id, 'reply')
  end
  return 'case_opened', id
end

local function sender() return { channel = msg.channel, addr = msg.addr, masked = msg.masked } end

local function info_from_message()
  return { label = intent.label, title = intent.title, intent = intent.name, text = msg.text,
           place = slots.place, route = env.route, confidence = intent.confidence,
           review = intent.review }
end

-- An open question to the sender (a resident's missing place, a deputy's
-- unclear command) is a session: the 'session' field of their address,
-- a timer, and an entry in a set bounded by limits.max_sessions.
-- Returns false, holding nothing, when the bound is reached.
local SESSIONS = P .. 'sessions'
local function hold_session(session)
  local who = msg.channel .. '|' .. msg.addr
  redis.call('ZREMRANGEBYSCORE', SESSIONS, '-inf', nows)
  if redis.call('ZCARD', SESSIONS) >= (tonumber(opt.max_sessions) or 10000) then return false end
  redis.call('ZADD', SESSIONS, nows + opt.session_s, who)
  redis.call('HSET', RK, 'session', cjson.encode(session))
  redis.call('ZADD', TIMERS, nows + opt.session_s, 'session|' .. who)
  return true
end
local function drop_session()
  local who = msg.channel .. '|' .. msg.addr
  redis.call('HDEL', RK, 'session')
  redis.call('ZREM', TIMERS, 'session|' .. who)
  redis.call('ZREM', SESSIONS, who)
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
  redis.call('ZREM', SESSIONS, channel .. '|' .. addr)
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
  local id = env.case or hget(RK, 'rating_case')
  local c = load_case(id)
  local r = tonumber(env.rating)
  if not owns(c) or c.state ~= 'resolved' then
    reply(render('no_rating_case', {}))
    return 'no_rating_case', id
  end
  if not r then
    reply(render('rating_invalid', { case = id }))
    return 'rating_invalid', id
  end
  redis.call('HSET', case_key(id), 'rating', r, 'rated_at', nows)
  redis.call('HDEL', RK, 'rating_case')
  redis.call('ZREM', TIMERS, 'rating|' .. id)
  local p = person(c.deputy)
  if r <= 2 then
    set_state(c, allowed('reopen', c.state) or 'assigned', 'resident', 'reopened', tostring(r))
    redis.call('ZADD', P .. 'dq:' .. c.deputy, nows, id)
    arm_all(c)
    local vars = { case = id, rating = r, deputy = p and p.name or '' }
    reply(render('rated_low', vars), id)
    local committee = cfg('committee')
    if committee then notify(cjson.decode(committee), render('committee_low_rating', vars), id) end
    notify(p, render('committee_low_rating', vars), id)
    return 'reopened', id
  end
  set_state(c, allowed('rate', c.state) or 'closed', 'resident', 'rated', tostring(r))
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
  if c.deputy ~= '' then redis.call('ZREM', P .. 'dq:' .. c.deputy, id) end
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
     c.state ~= 'closed' and c.state ~= 'withdrawn' then
    return c, true
  end
  local ids = redis.call('ZREVRANGE', RCASES, 0, 0)
  c = ids[1] and load_case(ids[1])
  if c and (c.state == 'assigned' or c.state == 'accepted' or c.state == 'in_progress') and
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
local OPEN_STATES = { new = true, assigned = true, accepted = true, in_progress = true }
local function wordless()
  local rid = hget(RK, 'rating_case')
  local c = load_case(rid)
  if owns(c) and c.state == 'resolved' then
    reply(render('rating_invalid', { case = rid }), rid)
    return 'wordless', rid
  end
  local ids = redis.call('ZREVRANGE', RCASES, 0, 0)
  c = ids[1] and load_case(ids[1])
  if c and OPEN_STATES[c.state] then
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
  if intent.kind == 'chat' then
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

local SATISFIED = {
  accept = { accepted = true, in_progress = true, resolved = true, closed = true, withdrawn = true },
  progress = { in_progress = true, resolved = true, closed = true, withdrawn = true },
  resolve = { resolved = true, closed = true, withdrawn = true },
}

local function fire_deadline(id, kind, phase, clock)
  local c = load_case(id)
  if not c or c.clock ~= clock or not SATISFIED[kind] or SATISFIED[kind][c.state] then return end
  local p = person(c.deputy)
  local w = tonumber(opt[kind .. '_s']) or 0
  local vars = { case = id, topic = topic_of(c), category = category_name(c.category),
                 action = word('action.' .. kind), state = state_name(c.state),
                 hours = math.max(0, math.floor((tonumber(clock) + w - nows) / 3600)) }
  if phase == 'half' then
    notify(p, render('reminder', vars), id)
    history(id, 'system', 'reminded', kind .. ' half')
  elseif phase == 'due' then
    notify(p, render('reminder_due', vars), id)
    history(id, 'system', 'reminded', kind .. ' due')
    redis.call('HSET', case_key(id), 'overdue', kind)
  elseif phase == 'over' then
    escalate(c, 'system', render('overdue', vars), 1)
  elseif phase == 'over2' then
    escalate(c, 'system', render('overdue', vars), 2)
  end
  if NEXT_PHASE[phase] then arm(id, kind, NEXT_PHASE[phase], tonumber(clock)) end
end

local function close_unrated(id)
  local c = load_case(id)
  if not c or c.state ~= 'resolved' then return end
  set_state(c, allowed('rate', c.state) or 'closed', 'system', 'closed_unrated', '')
  redis.call('ZREM', rcases_key(c.channel, c.addr), id)
  local rk = res_key(c.channel, c.addr)
  if hget(rk, 'rating_case') == id then redis.call('HDEL', rk, 'rating_case') end
  push(c, render('closed_unrated', { case = id, topic = topic_of(c) }))
end

-- Timers that are due, each handled by exactly one instance: the ZREM
-- happens in the same atomic step as the work.
local function tick()
  local due = redis.call('ZRANGEBYSCORE', TIMERS, '-inf', nows, 'LIMIT', 0, 50)
  for _, t in ipairs(due) do
    redis.call('ZREM', TIMERS, t)
    local f = {}
    for part in string.gmatch(t, '[^|]+') do f[#f + 1] = part end
    if f[1] == 'session' then
      expire_session(f[2], f[3])
    elseif f[1] == 'case' then
      fire_deadline(f[2], f[3], f[4], f[5])
    elseif f[1] == 'rating' then
      close_unrated(f[2])
    end
  end
  return 'tick', tostring(#due)
end

---------------------------------------------------------------------------
-- Deputies

local COMMAND_EVENT = { ['cmd.accept'] = 'accept', ['cmd.progress'] = 'progress',
                        ['cmd.resolve'] = 'resolve', ['cmd.detail'] = 'detail',
                        ['cmd.transfer'] = 'transfer', ['cmd.escalate'] = 'escalate',
                        ['cmd.reply'] = 'reply' }
-- When the engine is unsure of a command it offers its own guesses first,
-- then these, up to OFFER_MAX choices.
local OFFER_ORDER = { 'cmd.progress', 'cmd.resolve', 'cmd.detail', 'cmd.transfer', 'cmd.reply',
                      'cmd.accept', 'cmd.escalate' }
local OFFER_MAX = 4
-- A numbered question offers at most this many cases (one-digit answers).
local PICK_MAX = 9

local function age(ts)
  local s = nows - tonumber(ts)
  if s >= 86400 then return math.floor(s / 86400) .. '天' end
  if s >= 3600 then return math.floor(s / 3600) .. '小时' end
  return math.max(1, math.floor(s / 60)) .. '分钟'
end

local function deputy_list(me)
  local ids = redis.call('ZRANGE', P .. 'dq:' .. me, 0, -1, 'WITHSCORES')
  if #ids == 0 then
    reply(render('deputy_list_empty', {}))
    return 'list', nil
  end
  local items = {}
  for i = 1, #ids, 2 do
    local c = load_case(ids[i])
    if c then
      items[#items + 1] = render('deputy_list_item', { case = c.id, topic = topic_of(c),
        age = age(ids[i + 1]), state = state_name(c.state) })
    end
  end
  reply(render('deputy_list', { count = #items, items = table.concat(items, '；') }))
  return 'list', nil
end

local function name_of(id)
  local p = person(id)
  return p and p.name or (id ~= '-' and id or '')
end

-- One history entry in words (the event.* texts).  Entries keep the
-- internal names they were written with (deputy ids, routing rules,
-- levels, deadline kinds); only their words reach a person.
local function event_words(e)
  local ev, text = e.event or '', e.text or ''
  local vars = { text = text }
  if ev == 'assigned' then
    local d, rule = string.match(text, '^(%S+) (%S+)$')
    vars.text, vars.deputy, vars.rule = '', name_of(d), rule and word('rule.' .. rule) or ''
  elseif ev == 'transferred' then
    local from, to, note = string.match(text, '^(%S+) %-> (%S+) ?(.*)$')
    vars.from, vars.deputy = name_of(from), name_of(to)
    vars.text = e.actor == 'system' and '' or (note or '')
  elseif ev == 'escalated' then
    local level, note = string.match(text, '^(%S+) ?(.*)$')
    vars.level = level and word('level.' .. level) or ''
    vars.text = note or ''
    -- Deadline escalations once noted the kind ("accept"), now its words.
    for _, kind in ipairs(DEADLINES) do
      if note == kind then vars.text = word('action.' .. kind) end
    end
  elseif ev == 'reminded' then
    local kind = string.match(text, '^(%S+)')
    vars.text, vars.action = '', kind and word('action.' .. kind) or ''
  elseif ev == 'rated' or ev == 'reopened' then
    vars.rating = text
  elseif ev == 'category_corrected' then
    local a, b = string.match(text, '^(%S+) %-> (%S+)$')
    vars.text, vars.previous, vars.category = '', a and category_name(a) or '', b and category_name(b) or ''
  end
  if not cfg('t:event.' .. ev) then return render('event.other', vars) end
  return render('event.' .. ev, vars)
end

local function deputy_detail(c)
  local h = redis.call('LRANGE', P .. 'hist:' .. c.id, -3, -1)
  local steps = {}
  for _, j in ipairs(h) do steps[#steps + 1] = event_words(cjson.decode(j)) end
  local p = person(c.deputy)
  reply(render('deputy_detail', { case = c.id, topic = topic_of(c), category = category_name(c.category),
    state = state_name(c.state), text = c.text, place = c.place ~= '' and c.place or '-',
    resident = c.masked, history = table.concat(steps, '；'), deputy = p and p.name or '',
    station = p and p.station_name or '' }), c.id)
  return 'detail', c.id
end

-- A deputy's command as the step works on it: from this message, or
-- from the question it left open ({label, alts, case, body, question,
-- target, target_name, target_ids, certain}).
local function command_of_message()
  return { label = intent.label, alts = intent.alts, case = env.case, body = env.body or '',
           question = env.question, target = env.target, target_name = env.target_name,
           target_ids = env.target_ids, certain = intent.certain ~= false }
end

-- Nothing is done on a guess: the command waits in a session while the
-- deputy is asked to choose by number.  Past the bound on open questions
-- the deputy is told how to write the command instead.
local function ask_deputy(cmd, ask, options, question)
  if not hold_session({ deputy = env.deputy, cmd = cmd, ask = ask, options = options,
                        question = question, ts = nows }) then
    reply(render('deputy_help', {}), cmd.case)
    return 'need_' .. ask, cmd.case
  end
  reply(question, cmd.case)
  return 'asked_' .. ask, cmd.case
end

local function ask_case(cmd, open)
  local items, options = {}, {}
  for i = 1, math.min(#open, PICK_MAX) do
    local c = load_case(open[i])
    options[i] = open[i]
    items[i] = render('deputy_pick_case_item', { n = i, case = open[i], topic = c and topic_of(c) or '',
      state = c and state_name(c.state) or '' })
  end
  return ask_deputy(cmd, 'case', options,
    render('deputy_pick_case', { count = #open, items = table.concat(items, ' ') }))
end

local function ask_command(cmd, c)
  local options, seen = {}, {}
  local function offer(label, guessed)
    local ev = COMMAND_EVENT[label]
    -- To fill up, a transfer is offered only when the message names whom to.
    if #options >= OFFER_MAX or not ev or seen[label] or
       (ev == 'transfer' and not cmd.target and not guessed) then return end
    seen[label] = true
    options[#options + 1] = label
  end
  for _, label in ipairs(cmd.alts or {}) do offer(label, true) end
  offer(cmd.label, true)
  for _, label in ipairs(OFFER_ORDER) do offer(label, false) end
  local items = {}
  for i, label in ipairs(options) do
    items[i] = render('deputy_pick_command_item', { n = i, action = word('option.' .. COMMAND_EVENT[label]) })
  end
  return ask_deputy(cmd, 'command', options,
    render('deputy_pick_command', { case = c.id, topic = topic_of(c), items = table.concat(items, ' ') }))
end

-- The command is certain (or confirmed by the deputy's digit) and case
-- `c` is theirs: do it.  Only here does a deputy's text reach a resident.
local function act(cmd, c, ev)
  local me, id = env.deputy, c.id
  local p = person(me)
  local body = cmd.body or ''
  local vars = { case = id, deputy = p and p.name or me, text = body, topic = topic_of(c) }

  if ev == 'transfer' then
    if not cmd.target then
      vars.target = cmd.target_name or ''
      if cmd.target_ids then
        local items = {}
        for i, d in ipairs(cmd.target_ids) do
          local tp = person(d)
          items[i] = render('deputy_ambiguous_item', { id = d, station = tp and tp.station_name or '' })
        end
        vars.count, vars.items, vars.example = #cmd.target_ids, table.concat(items, '、'), cmd.target_ids[1]
        reply(render('deputy_ambiguous_deputy', vars), id)
      else
        reply(render(vars.target ~= '' and 'deputy_unknown_deputy' or 'deputy_need_target', vars), id)
      end
      return 'unknown_deputy', id
    end
    local action = transfer(c, cmd.target, me, body)
    local tp = person(cmd.target)
    vars.target = tp and tp.name or cmd.target
    local answers = { transferred = 'deputy_transferred', unknown_deputy = 'deputy_unknown_deputy',
                      same_deputy = 'deputy_transfer_self' }
    if answers[action] then
      reply(render(answers[action], vars), id)
    else
      reply(render('deputy_bad_state', { case = id, state = state_name(c.state),
        action = word('action.transfer') }), id)
    end
    return action, id
  end
  if ev == 'escalate' then
    if not allowed('escalate', c.state) then
      reply(render('deputy_bad_state', { case = id, state = state_name(c.state),
        action = word('action.escalate') }), id)
      return 'bad_state', id
    end
    local level = escalate(c, me, body)
    -- Already as high as it goes: the deputy is told where it is, the
    -- resident is not told again.
    vars.level = word((level or tonumber(c.escalated)) == 1 and 'level.station' or 'level.committee')
    if level then push(c, render('escalated', vars)) end
    reply(render(level and 'deputy_escalated' or 'deputy_escalated_already', vars), id)
    return level and 'escalated' or 'escalated_already', id
  end
  if ev == 'reply' then
    if c.state == 'closed' or c.state == 'withdrawn' then
      reply(render('deputy_bad_state', { case = id, state = state_name(c.state),
        action = word('action.reply') }), id)
      return 'bad_state', id
    end
    history(id, me, 'asked', body)
    redis.call('HSET', P .. 'res:' .. c.channel .. ':' .. c.addr, 'relay_case', id, 'relay_at', nows)
    -- Worded as a question only when it is one (step_is_question in src/core/step.c).
    send(c.channel, c.addr, render(cmd.question and 'relay_to_resident' or 'relay_statement', vars), id, 'reply')
    reply(render('deputy_relayed', vars), id)
    return 'relayed', id
  end

  local to = allowed(ev, c.state)
  if not to then
    reply(render('deputy_bad_state', { case = id, state = state_name(c.state),
      action = word('action.' .. ev) }))
    return 'bad_state', id
  end
  if ev == 'accept' then
    set_state(c, to, me, 'accepted', body)
    redis.call('HSET', case_key(id), 'accepted_at', nows)
    push(c, render('accepted', vars))
    reply(render('deputy_accepted', vars), id)
    return 'accepted', id
  elseif ev == 'progress' then
    set_state(c, to, me, 'progress', body)
    redis.call('HSET', case_key(id), 'latest', body)
    if not c.accepted_at then redis.call('HSET', case_key(id), 'accepted_at', nows) end
    if not c.progress_at then redis.call('HSET', case_key(id), 'progress_at', nows) end
    push(c, render('progress', vars))
    reply(render('deputy_progress', vars), id)
    return 'progress', id
  end
  -- resolve
  set_state(c, to, me, 'resolved', body)
  redis.call('HSET', case_key(id), 'latest', body, 'result', body, 'resolved_at', nows)
  redis.call('ZREM', P .. 'dq:' .. me, id)
  redis.call('HSET', P .. 'res:' .. c.channel .. ':' .. c.addr, 'rating_case', id)
  redis.call('ZADD', TIMERS, nows + opt.rating_s, 'rating|' .. id)
  push(c, render('resolved', vars))
  reply(render('deputy_resolved', vars), id)
  return 'resolved', id
end

-- A command from a message or a confirmed question: find its case (ask
-- when the deputy has several open and named none), check it is theirs,
-- and ask again when the engine was unsure what the deputy meant.
-- Reading (待办, 详情) changes nothing and reaches no one: never asked.
local function run_command(cmd)
  local me = env.deputy
  if cmd.label == 'cmd.list' then return deputy_list(me) end
  local ev = COMMAND_EVENT[cmd.label]
  if not ev then
    reply(render('deputy_help', {}))
    return 'deputy_help', nil
  end
  local id = cmd.case
  if not id then
    local open = redis.call('ZRANGE', P .. 'dq:' .. me, 0, -1)
    if #open > 1 then return ask_case(cmd, open) end
    if #open == 0 then
      reply(render('deputy_need_case', { count = 0 }))
      return 'need_case', nil
    end
    id = open[1]
    cmd.case = id
  end
  local c = load_case(id)
  if not c then
    reply(render('deputy_unknown_case', { case = id }))
    return 'unknown_case', id
  end
  if c.deputy ~= me then
    reply(render('deputy_foreign_case', { case = id }))
    return 'foreign_case', id
  end
  if ev == 'detail' then return deputy_detail(c) end
  if not cmd.certain then return ask_command(cmd, c) end
  return act(cmd, c, ev)
end

local function deputy()
  -- A question left open: a digit in range answers it; any other message
  -- drops it and is read on its own.
  local raw = hget(RK, 'session')
  if raw then
    local s = cjson.decode(raw)
    local choice = env.digit and s.options and s.options[env.digit]
    if env.digit and not choice then
      reply(s.question or '')
      return 'asked_' .. (s.ask or ''), s.cmd and s.cmd.case
    end
    drop_session()
    if choice then
      local cmd = s.cmd
      if s.ask == 'case' then
        cmd.case = choice
      else
        cmd.label, cmd.certain = choice, true
      end
      return run_command(cmd)
    end
  end
  -- A deputy's thanks or "知道了" needs no answer (an SMS costs money and
  -- the deputy's attention); emoji alone are no command, whatever the
  -- engine made of them.
  if intent.label == 'chat.thanks' and not env.empty then return 'deputy_thanks', nil end
  if intent.kind ~= 'command' or env.empty then
    reply(render('deputy_help', {}))
    return 'deputy_help', nil
  end
  return run_command(command_of_message())
end

---------------------------------------------------------------------------

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
      local keep = P .. 'limited:' .. msg.channel .. ':' .. msg.addr
      redis.call('RPUSH', keep, cjson.encode({ ts = nows, text = msg.text }))
      redis.call('LTRIM', keep, -100, -1)
      if n == limit + 1 then reply(render('rate_limited', {})) end
      return 'rate_limited'
    end
  end
  return nil
end

local action, case_id
if env.mode == 'tick' then
  action, case_id = tick()
elseif env.mode == 'reroute' then
  -- Deputies who left the roster: their open cases go to their station's
  -- liaison (else the default liaison), and the committee is told.
  local moved = 0
  for _, gone in ipairs(env.removed or {}) do
    for _, id in ipairs(redis.call('ZRANGE', P .. 'dq:' .. gone, 0, -1)) do
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
  action, case_id = 'rerouted', tostring(moved)
elseif env.mode == 'assign' then
  local c = load_case(env.case)
  if c then
    action, case_id = transfer(c, env.target, env.actor, env.note), env.case
  else
    action, case_id = 'unknown_case', env.case
  end
elseif env.role == 'deputy' then
  note_deputy_channel(env.deputy)
  action, case_id = deputy()
else
  action = limited()
  if not action then action, case_id = resident() end
end
local passive_text = ''
if msg.passive then
  -- Updates that could not be pushed wait for the resident's next message.
  local held_key = P .. 'held:' .. msg.channel .. ':' .. msg.addr
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
  redis.call('SET', seen, v, 'EX', seen_ttl)
end
flush_outbox()
if looped > 0 then action = action .. ':loop_stopped' end
return { action, case_id or '', outn, passive_text }
