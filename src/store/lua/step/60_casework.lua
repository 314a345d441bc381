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
  if old ~= '' then redis.call('ZREM', K.dq .. old, c.id) end
  redis.call('ZADD', K.dq .. target, nows, c.id)
  redis.call('HSET', case_key(c.id), 'deputy', target, 'station', tp.station or '',
    'routed_by', 'transfer', 'latest', tp.name)
  -- the statistics count the case under its new deputy and station
  agg_case(c, -1)
  c.deputy = target
  c.station = tp.station or ''
  agg_case(c, 1)
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

-- An administrator withdraws case `c` (a duplicate, a test, a resident's
-- wish given by telephone): it leaves the deputy's and the resident's open
-- lists like a resident's own withdrawal, and both are told.  Returns an
-- action name.
local function admin_withdraw(c, actor, note)
  local to = allowed('withdraw', c.state)
  if not to then return 'bad_state' end
  set_state(c, to, actor, 'withdrawn', note or '')
  if c.channel and c.channel ~= '' and c.addr and c.addr ~= '' then
    redis.call('ZREM', rcases_key(c.channel, c.addr), c.id)
  end
  if c.deputy ~= '' then redis.call('ZREM', K.dq .. c.deputy, c.id) end
  local vars = { case = c.id, topic = topic_of(c), note = note or '' }
  push(c, render('withdrawn_admin', vars))
  notify(person(c.deputy), render('deputy_withdrawn_admin', vars), c.id)
  return 'withdrawn'
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

