-- Common issues (共性问题, docs/lifecycle.md): a concern whose station,
-- category and place match an open case opened within
-- timers.common_window_s, and whose words are alike (the cosine of the
-- daemon's signatures, src/intents/similar.h, at least opt.common_min),
-- joins that case's common issue, or makes one of the two.  Decided here,
-- in the step that opens the case, so that two residents writing at the
-- same moment end in one issue.

-- The newest open cases of one place compared, at most.
local COMMON_CANDIDATES = 16

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

-- The cosine of two signatures: sorted runs of 6 hex digits (similar.h).
local function sig_cosine(a, b)
  local na, nb = math.floor(#a / 6), math.floor(#b / 6)
  if na == 0 or nb == 0 then return 0 end
  local i, j, both = 0, 0, 0
  while i < na and j < nb do
    local x, y = string.sub(a, i * 6 + 1, i * 6 + 6), string.sub(b, j * 6 + 1, j * 6 + 6)
    if x == y then
      both, i, j = both + 1, i + 1, j + 1
    elseif x < y then
      i = i + 1
    else
      j = j + 1
    end
  end
  return both / math.sqrt(na * nb)
end

local function place_key(station_id, label, place)
  return K.cplace .. station_id .. '|' .. label .. '|' .. place
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
  local pk = place_key(station_id, label, place)
  local rows = redis.call('ZREVRANGE', pk, 0, COMMON_CANDIDATES - 1, 'WITHSCORES')
  local best, best_cos, gone = nil, tonumber(opt.common_min) or 1, {}
  for i = 1, #rows, 2 do
    local cid, ts = rows[i], tonumber(rows[i + 1])
    if ts < nows - window then
      gone[#gone + 1] = cid
    else
      local v = redis.call('HMGET', case_key(cid), 'state', 'sig', 'deputy', 'common', 'text')
      local st = v[1] and SCHEMA.states[v[1]]
      if not st or not st.open or v[1] == S.new then
        gone[#gone + 1] = cid
      else
        local cos = sig_cosine(sig, v[2] or '')
        if cos >= best_cos then
          best, best_cos = { id = cid, deputy = v[3] or '', common = v[4] or '', text = v[5] or '' }, cos
        end
      end
    end
  end
  if #gone > 0 then redis.call('ZREM', pk, unpack(gone)) end
  redis.call('ZADD', pk, nows, id)
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
  return opt.common_prefix .. n
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
