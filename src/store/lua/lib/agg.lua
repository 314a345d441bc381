-- Exact statistics as aggregates (docs/admin.md, "Aggregates").
--
-- A case counts in the buckets of the day and of the month it was opened
-- (China time, AGG_TZ_S), once for each of its facts (metrics), under
-- two fields: its deputy and station, and its station and category:
--   K.agg .. 'd:YYYYMMDD'  hash  'd|DEPUTY|STATION|metric'   -> count
--                                'c|STATION|CATEGORY|metric' -> count
--   K.agg .. 'm:YYYYMM'    the same summed over the month
-- A report over any range of days reads whole months plus the days at
-- its edges, never a case; the two fields give it every deputy, station
-- and category (one station's too) from a few thousand fields a month,
-- where one field of all four names would multiply deputies by categories.
--
-- Metrics (agg_facts): "received" (every case), "accepted" (taken on),
-- "solved" (now resolved or closed), "closed", "withdrawn", "rating.N"
-- (its rating now), "revisit.*" and "aspect.NAME.N" (step/68_revisit.lua).  They are kept exact as cases change: a state change
-- bumps only the metrics the state changes (case_moved: opening,
-- resolving, closing, reopening, withdrawing; accepting and progress move
-- none), a rating replaces the case's previous one, a transfer or a
-- category correction moves the whole case (agg_case -1 under the old
-- names, +1 under the new).  What a case counts is agg_facts(case) alone,
-- so the rebuild (admin.lua agg_rebuild) recounts any data set to the
-- same numbers.
--
-- Naming a metric: lower-case words joined by "." ("rating.5"; a feature
-- takes its own prefix, e.g. "revisit.asked", "aspect.态度.4"), never "|".
-- A feature that counts one bumps it where the fact changes
-- (agg_bump(metric, case, n)) and adds it to agg_facts, so that a rebuild
-- counts it too; the report shows every metric it finds.
--
-- A rebuild in progress keeps its cursor (the creation time up to which
-- it has counted the cases) in K.agg_rebuild: a change to a case it has
-- already counted is applied to the new counts too.  That is the one
-- extra read (HGET), once a call that bumps anything.
local AGG_TZ_S = 8 * 3600

-- Days since 1970-01-01 -> year, month, day (proleptic Gregorian).
local function agg_civil(days)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

-- Year, month, day -> days since 1970-01-01.
local function agg_days(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- The day and month bucket names of Unix time `ts`.
local function agg_buckets(ts)
  local y, m, d = agg_civil(math.floor((ts + AGG_TZ_S) / 86400))
  return string.format('d:%04d%02d%02d', y, m, d), string.format('m:%04d%02d', y, m)
end

-- The rebuild's cursor: nil until read, false without one.  State of one
-- call: every function that bumps the aggregates calls agg_begin() first.
local agg_cursor
local function agg_begin() agg_cursor = nil end
local function agg_counted(created)
  if agg_cursor == nil then
    agg_cursor = tonumber(redis.call('HGET', K.agg_rebuild, 'cursor')) or false
  end
  return agg_cursor and created <= agg_cursor
end

local function agg_add(prefix, bucket, field, n)
  redis.call('HINCRBY', prefix .. bucket, field, n)
end

-- The two fields of `metric` for case `c` ({deputy, station, category}).
local function agg_fields(metric, c)
  local st = c.station or ''
  return 'd|' .. (c.deputy or '') .. '|' .. st .. '|' .. metric,
         'c|' .. st .. '|' .. (c.category or '') .. '|' .. metric
end

-- Adds `n` to `metric` of case `c` ({created, deputy, station, category}):
-- four HINCRBY (two fields, day and month), eight while a rebuild has
-- passed the case.
local function agg_bump(metric, c, n)
  local created = tonumber(c.created)
  if not created or n == 0 then return end
  local day, month = agg_buckets(created)
  local fd, fc = agg_fields(metric, c)
  for _, prefix in ipairs(agg_counted(created) and { K.agg, K.agg_new } or { K.agg }) do
    agg_add(prefix, day, fd, n)
    agg_add(prefix, day, fc, n)
    agg_add(prefix, month, fd, n)
    agg_add(prefix, month, fc, n)
  end
end

-- The metrics a case in `state` counts in by its state alone.
local AGG_STATE_FACTS = {
  resolved = { 'solved' },
  closed = { 'solved', 'closed' },
  withdrawn = { 'withdrawn' },
}

-- Bumps what a change of state from `from` (nil: just opened) to `to`
-- changes for case `c`: nothing for most steps of a case.
local function agg_state_moved(c, from, to)
  local was, now = {}, {}
  if from then
    was.received = true
    for _, m in ipairs(AGG_STATE_FACTS[from] or {}) do was[m] = true end
  end
  now.received = true
  for _, m in ipairs(AGG_STATE_FACTS[to] or {}) do now[m] = true end
  for m in pairs(was) do if not now[m] then agg_bump(m, c, -1) end end
  for m in pairs(now) do if not was[m] then agg_bump(m, c, 1) end end
end

-- The metrics case `c` (its whole hash: HGETALL) counts in.  Besides the
-- state's and the rating: 回头看 ("revisit.asked", "revisit.answered",
-- "revisit.relapsed": asked, answered at least once, a relapse at least
-- once; step/68_revisit.lua) and each aspect's score ("aspect.态度.4").
local function agg_facts(c)
  local f = { 'received' }
  for _, m in ipairs(AGG_STATE_FACTS[c.state] or {}) do f[#f + 1] = m end
  if c.accepted_at and c.accepted_at ~= '' then f[#f + 1] = 'accepted' end
  if tonumber(c.rating) then f[#f + 1] = 'rating.' .. tonumber(c.rating) end
  if tonumber(c.revisit_asked) then f[#f + 1] = 'revisit.asked' end
  if (tonumber(c.revisits) or 0) > 0 then f[#f + 1] = 'revisit.answered' end
  if (tonumber(c.relapses) or 0) > 0 then f[#f + 1] = 'revisit.relapsed' end
  for k, v in pairs(c) do
    if string.sub(k, 1, 7) == 'aspect:' and tonumber(v) then
      f[#f + 1] = 'aspect.' .. string.sub(k, 8) .. '.' .. tonumber(v)
    end
  end
  return f
end

-- A case hash as a table, as agg_facts reads it.
local function agg_load(key)
  local h = redis.call('HGETALL', key)
  local c = {}
  for i = 1, #h, 2 do c[h[i]] = h[i + 1] end
  return c
end

-- Adds (n = 1) or takes away (n = -1) everything case `c` counts.
local function agg_case(c, n)
  for _, m in ipairs(agg_facts(c)) do agg_bump(m, c, n) end
end
