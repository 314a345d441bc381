-- Stations' reception days (roster "reception") and the duty deputies'
-- morning digest (roster "duty", timers.digest_at): docs/lifecycle.md.
-- The directory's "s:<id>" carries both (src/core/directory.c).

local MONTH_DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
local function month_days(y, mo)
  if mo == 2 and ((y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0) then return 29 end
  return MONTH_DAYS[mo]
end

-- The next reception of station `st` from `today` ({y, mo, d, w, hm},
-- local, step.c today_json): today's while it has not ended, else the
-- first later day with one (the earliest of a day's).  Returns the entry
-- and its month, day and weekday, or nil when none within two months.
local function next_reception(st, today)
  local y, mo, d, w = today.y, today.mo, today.d, today.w
  for i = 0, 62 do
    local best
    for _, r in ipairs(st.reception or {}) do
      local ends = (r.to ~= '' and r.to) or r.from
      if (r.w == w or r.m == d) and (i > 0 or ends > today.hm) and (not best or r.from < best.from) then
        best = r
      end
    end
    if best then return best, mo, d, w end
    d, w = d + 1, (w + 1) % 7
    if d > month_days(y, mo) then d, mo = 1, mo + 1 end
    if mo > 12 then mo, y = 1, y + 1 end
  end
  return nil
end

-- The station a resident asking about receptions belongs to: the place
-- their question names (the plan's area step), else the station of the
-- deputy they are bound to (代表码), else that of their latest case,
-- else the default station.
local function asker_station()
  for _, step in ipairs(env.route or {}) do
    if step.rule == 'area' and step.station and step.station ~= '' then return step.station end
  end
  local bound = person(rk_cache and rk_cache.bound)
  if bound and (bound.station or '') ~= '' then return bound.station end
  local last = hget(RK, 'last_case')
  local sid = last and hget(case_key(last), 'station')
  if sid and sid ~= '' then return sid end
  return cfg('default_station')
end

local function reception()
  local st = station(asker_station())
  if not st then
    reply(render('help', {}))
    return 'help', nil
  end
  local r, mo, d, w
  if env.today then r, mo, d, w = next_reception(st, env.today) end
  if not r then
    reply(render('reception_none', { station = st.name }))
    return 'reception_none', nil
  end
  reply(render('reception', { station = st.name, date = mo .. '月' .. d .. '日',
    weekday = word('weekday.' .. w), time = r.from .. (r.to ~= '' and ('-' .. r.to) or ''),
    place = r.place }))
  return 'reception', nil
end

-- The day's digest timer, asked for by each worker once a local day
-- (step.c add_digest): one member whatever the number of workers, and
-- not again once that day's digest went out (K.digest .. day).
local function arm_digest(dg)
  if type(dg) ~= 'table' or type(dg.day) ~= 'string' or not tonumber(dg.at) or not tonumber(dg.w) or
     not tonumber(dg.m) then
    return
  end
  if redis.call('EXISTS', K.digest .. dg.day) == 1 then return end
  redis.call('ZADD', K.timers, 'NX', tonumber(dg.at),
    'digest|' .. dg.day .. '|' .. tonumber(dg.w) .. '|' .. tonumber(dg.m))
end

-- How many case ids a digest names per list; and how many cases one
-- digest reads at most per list (a day's new cases, the overdue ones).
local DIGEST_IDS = 5
local DIGEST_SCAN = 5000

-- The digest of local day `day` (weekday w, day of month m): for every
-- station with a deputy on duty that day, the cases opened in the last
-- 24 hours and the open cases past their deadline ("overdue",
-- lib/overdue.lua's rule), each deputy on duty told once.  The claim key
-- makes it once a day whatever fires it.
local function fire_digest(day, w, m)
  if not redis.call('SET', K.digest .. day, nows, 'NX', 'EX', 8 * 86400) then return end
  local lists = {}   -- station -> { new = {ids}, overdue = {ids} }
  local function collect(kind, ids)
    for _, id in ipairs(ids) do
      local v = redis.call('HMGET', case_key(id), 'station', 'state')
      local sid = v[1] or ''
      if kind == 'new' or (v[2] and SCHEMA.states[v[2]] and SCHEMA.states[v[2]].open) then
        lists[sid] = lists[sid] or { new = {}, overdue = {} }
        local l = lists[sid][kind]
        l[#l + 1] = id
      end
    end
  end
  collect('new', redis.call('ZRANGEBYSCORE', K.cases, '(' .. (nows - 86400), '+inf', 'LIMIT', 0, DIGEST_SCAN))
  for _, dl in ipairs(SCHEMA.deadline_order) do
    local window
    for _, t in ipairs(SCHEMA.deadlines[dl]) do
      local v = tonumber(opt[t .. '_s'])
      if v and (not window or v < window) then window = v end
    end
    if window then
      collect('overdue', redis.call('ZRANGEBYSCORE', K.due .. dl, '-inf', '(' .. (nows - window),
        'LIMIT', 0, DIGEST_SCAN))
    end
  end
  -- Open common issues (共性问题), most residents first: "R1003（5人）".
  local commons = {}   -- station -> { "R1003（5人）", ... }
  local ranked = redis.call('ZREVRANGE', K.commons, 0, DIGEST_SCAN - 1, 'WITHSCORES')
  for i = 1, #ranked, 2 do
    local sid = redis.call('HGET', K.common .. ranked[i], 'station') or ''
    commons[sid] = commons[sid] or {}
    local l = commons[sid]
    l[#l + 1] = ranked[i] .. '（' .. ranked[i + 1] .. '人）'
  end
  local function items(ids)
    if #ids == 0 then return '' end
    local shown = {}
    for i = 1, math.min(#ids, DIGEST_IDS) do shown[i] = ids[i] end
    return '：' .. table.concat(shown, '、') .. (#ids > DIGEST_IDS and '等' or '')
  end
  local y, mo, d = string.match(day, '^(%d+)-(%d+)-(%d+)$')
  local date = y and (tonumber(mo) .. '月' .. tonumber(d) .. '日') or day
  w, m = tonumber(w) or -1, tonumber(m) or 0
  for _, sid in ipairs(cjson.decode(cfg('stations') or '[]')) do
    local st = station(sid)
    local text
    for _, entry in ipairs(st and st.duty or {}) do
      local on = (w >= 0 and bit.band(entry[2], bit.lshift(1, w)) ~= 0) or
                 (m >= 1 and bit.band(entry[3], bit.lshift(1, m)) ~= 0)
      local p = on and person(entry[1])
      if p then
        if not text then
          local l = lists[sid] or { new = {}, overdue = {} }
          local cl = commons[sid] or {}
          text = render('digest', { date = date, station = st.name, new = #l.new,
            new_items = items(l.new), overdue = #l.overdue, overdue_items = items(l.overdue),
            common = #cl, common_items = items(cl) })
        end
        notify(p, text, '')
      end
    end
  end
end
