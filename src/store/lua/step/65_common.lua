-- Common issues (共性问题, docs/lifecycle.md): a concern whose station,
-- category and place match an open case opened within
-- timers.common_window_s, and whose words are alike (the cosine of the
-- daemon's signatures, src/intents/similar.h, at least opt.common_min),
-- joins that case's common issue, or makes one of the two.  Decided here,
-- in the step that opens the case, so that two residents writing at the
-- same moment end in one issue.

-- The newest open cases of one place compared, at most.  Each costs an
-- HMGET; cases of a common issue already compared are not compared again.
local COMMON_CANDIDATES = 8

local function is_common_id(id)
  local pre = opt.common_prefix or ''
  return id ~= nil and pre ~= '' and string.sub(id, 1, #pre) == pre and
    string.match(string.sub(id, #pre + 1), '^%d+$') ~= nil
end

local function common_key(id) return K.common .. id end
local function load_common(id)
  if not is_common_id(id) then return nil end
  local h = redis.call('HGETALL', common_key(id))
  if #h == 0 then return nil end
  local m = {}
  for i = 1, #h, 2 do m[h[i]] = h[i + 1] end
  return m
end
-- The case ids of common issue `m`, in the order they joined.
local function common_cases(m)
  local ids = {}
  for id in string.gmatch(m.cases or '', '%S+') do ids[#ids + 1] = id end
  return ids
end

-- The cosine of two signatures (runs of 6 hex digits, similar.h): the
-- grams of the new concern as a set, made once (sig_grams), against each
-- candidate's.  A set lookup a gram: a merge walk with string.sub cost ten
-- times more Lua for the same answer.
local function sig_grams(sig)
  local set, n = {}, 0
  for g in string.gmatch(sig, '......') do
    set[g] = true
    n = n + 1
  end
  return set, n
end
local function sig_cosine(set, na, b)
  local nb, both = 0, 0
  for g in string.gmatch(b, '......') do
    nb = nb + 1
    if set[g] then both = both + 1 end
  end
  if na == 0 or nb == 0 then return 0 end
  return both / math.sqrt(na * nb)
end

-- The open case of the same station, category and place that case `id`
-- (signature `sig`) should join, as {id, deputy, common, text}, or nil;
-- `id` is registered as a candidate for the concerns after it.  Costs
-- a ZREVRANGE, a ZADD and an EXPIRE, plus one HMGET a candidate compared;
-- nothing for a concern without a place or a signature.
local function common_candidate(station_id, label, place, sig, id)
  local window = tonumber(opt.common_window_s) or 0
  if window <= 0 or not station_id or station_id == '' or not place or place == '' or
     not sig or sig == '' then
    return nil
  end
  local pk = cplace_key(station_id, label, place)
  local rows = redis.call('ZREVRANGE', pk, 0, COMMON_CANDIDATES - 1, 'WITHSCORES')
  local best, best_cos, gone = nil, tonumber(opt.common_min) or 1, {}
  local grams, ngrams = sig_grams(sig)
  local seen = {}   -- common issues compared: one of their cases speaks for all
  for i = 1, #rows, 2 do
    local cid, csig = cplace_parse(rows[i])
    local ts = tonumber(rows[i + 1])
    if ts < nows - window then
      gone[#gone + 1] = rows[i]
    else
      local v = redis.call('HMGET', case_key(cid), 'state', 'category', 'deputy', 'common', 'text',
        'station')
      local st = v[1] and SCHEMA.states[v[1]]
      -- A case transferred to another station or given another category
      -- since it was listed here no longer shares the place's problem.
      if not st or not st.open or v[1] == S.new or v[2] ~= label or v[6] ~= station_id then
        gone[#gone + 1] = rows[i]
      elseif not (v[4] and seen[v[4]]) then
        if v[4] then seen[v[4]] = true end
        local cos = sig_cosine(grams, ngrams, csig)
        if cos >= best_cos then
          best, best_cos = { id = cid, deputy = v[3] or '', common = v[4] or '', text = v[5] or '' }, cos
        end
      end
    end
  end
  if #gone > 0 then redis.call('ZREM', pk, unpack(gone)) end
  redis.call('ZADD', pk, nows, cplace_member(id, sig))
  -- A place nobody writes about again is forgotten with its window.
  redis.call('EXPIRE', pk, window)
  -- Past the candidates compared, older entries are never read again.
  if #rows >= 2 * COMMON_CANDIDATES then
    redis.call('ZREMRANGEBYRANK', pk, 0, -(COMMON_CANDIDATES + 1))
  end
  return best
end

local function new_common_id()
  local n = redis.call('INCR', K.seq_common)
  if n < 1001 then n = redis.call('INCRBY', K.seq_common, 1001 - n) end
  local rid = opt.common_prefix .. n
  -- the year's key problems (admin.lua report) are read from here
  redis.call('ZADD', K.common_days, nows, rid)
  return rid
end

-- Adds case `id` to common issue `m` (a loaded hash), or to a new one
-- made around candidate `cand` ({id, deputy, text}) with `info` (the new
-- concern's label, title, place, station).  Returns the issue's hash.
local function common_add(m, cand, id, info, station_id)
  if not m then
    local rid = new_common_id()
    m = { id = rid, station = station_id, category = info.label, title = info.title or '',
          place = info.place or '', deputy = cand.deputy, lead = cand.id, text = cand.text,
          cases = cand.id, count = '1', created = tostring(nows) }
    redis.call('HSET', case_key(cand.id), 'common', rid)
    history(cand.id, 'system', 'joined', rid)
  end
  m.cases = m.cases .. ' ' .. id
  m.count = tostring(#common_cases(m))
  m.updated = tostring(nows)
  redis.call('HSET', common_key(m.id), 'id', m.id, 'station', m.station, 'category', m.category,
    'title', m.title or '', 'place', m.place, 'deputy', m.deputy, 'lead', m.lead, 'text', m.text or '',
    'cases', m.cases, 'count', m.count, 'created', m.created, 'updated', m.updated)
  redis.call('ZADD', K.commons, tonumber(m.count), m.id)
  return m
end

local function common_vars(m, extra)
  local vars = { common = m.id, place = m.place or '', count = m.count,
    topic = (m.title and m.title ~= '') and m.title or category_name(m.category),
    category = category_name(m.category), text = m.text or '' }
  for k, v in pairs(extra or {}) do vars[k] = v end
  return vars
end

-- By hand (POST /admin/common/split and /join, src/admin/admin_common.c):
-- env.op "split" takes case env.case out of its common issue; "join" puts
-- it into env.target's (a common issue's number, or a case whose issue
-- it joins or, without one, starts), handing it to the issue's deputy.
-- Returns an action and the issue's number.
local function common_drop(m, id)
  local left = {}
  for _, cid in ipairs(common_cases(m)) do
    if cid ~= id then left[#left + 1] = cid end
  end
  return left
end

-- A case that leaves its issue, or is left alone in it, runs on its own
-- deadlines again (only the issue's first case had them).
local function on_its_own(cid, rid, actor, was_lead)
  local c = load_case(cid)
  if not c then return end
  redis.call('HDEL', case_key(cid), 'common')
  history(cid, actor, 'split', rid)
  local st = SCHEMA.states[c.state]
  if st and st.open and c.state ~= S.new and not was_lead then arm_all(c) end
end

local function common_split(c, actor)
  local rid = c.common or ''
  local m = rid ~= '' and load_common(rid)
  if not m then return 'not_common', rid end
  local left = common_drop(m, c.id)
  on_its_own(c.id, rid, actor, c.id == m.lead)
  if #left <= 1 then
    -- one case is no common issue
    for _, cid in ipairs(left) do on_its_own(cid, rid, actor, cid == m.lead) end
    redis.call('DEL', common_key(rid))
    redis.call('ZREM', K.commons, rid)
    return 'dissolved', rid
  end
  local lead = m.lead
  if lead == c.id then
    lead = left[1]
    local lc = load_case(lead)
    if lc then arm_all(lc) end
  end
  redis.call('HSET', common_key(rid), 'cases', table.concat(left, ' '), 'count', #left,
    'lead', lead, 'updated', nows)
  if not m.resolved_at then redis.call('ZADD', K.commons, #left, rid) end
  return 'split', rid
end

local function common_join(c, target, actor)
  if c.common and c.common ~= '' then return 'already_common', c.common end
  local st = SCHEMA.states[c.state]
  if not st or not st.open or c.state == S.new then return 'bad_state', '' end
  local m, t
  if is_common_id(target) then
    m = load_common(target)
    if not m then return 'unknown_common', target end
  else
    t = load_case(target)
    if not t or t.id == c.id then return 'unknown_case', target end
    local tst = SCHEMA.states[t.state]
    if not tst or not tst.open or t.state == S.new then return 'bad_state', '' end
    if t.common and t.common ~= '' then m = load_common(t.common) end
  end
  -- the issue's deputy takes the case first: nothing is joined if not
  local dep = m and m.deputy or t.deputy
  if c.deputy ~= dep then
    local a = transfer(c, dep, actor, m and m.id or t.id)
    if a ~= 'transferred' then return a, m and m.id or '' end
  end
  if m then
    m = common_add(m, nil, c.id, nil, m.station)
  else
    m = common_add(nil, { id = t.id, deputy = t.deputy, text = t.text }, c.id,
      { label = t.category, title = t.title, place = t.place }, t.station)
  end
  redis.call('HSET', case_key(c.id), 'common', m.id)
  history(c.id, actor, 'joined', m.id)
  notify(person(m.deputy), render('deputy_common', common_vars(m, { case = c.id, text = c.text })), m.id)
  return 'joined', m.id
end

local function common_by_hand()
  local c = load_case(env.case)
  if not c then return 'unknown_case', env.case end
  local actor = env.actor or 'admin'
  if env.op == 'split' then return common_split(c, actor) end
  return common_join(c, env.target or '', actor)
end
