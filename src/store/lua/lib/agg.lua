-- Exact statistics as aggregates (docs/admin.md, "Aggregates").
--
-- A case counts in the buckets of the day and of the month it was opened
-- (China time, AGG_TZ_S), under its current deputy, station and
-- category, once for each of its facts:
--   K.agg .. 'd:YYYYMMDD'  hash 'deputy|station|category|metric' -> count
--   K.agg .. 'm:YYYYMM'    the same summed over the month
-- so a report over any range of days reads whole months plus the days at
-- its edges, never a case.  Counts are kept exact as cases change: a
-- state change moves 'state.FROM' to 'state.TO' (case_moved), a rating
-- replaces the case's previous one, a transfer or a category correction
-- moves the whole case (agg_case -1 under the old names, +1 under the
-- new).  What a case counts is agg_facts(case) alone, so the rebuild
-- (admin.lua agg_rebuild) recounts any data set to the same numbers.
--
-- Metric names: lower-case words joined by "." ("state.closed",
-- "rating.5"; a feature adds its own prefix, e.g. "revisit.asked",
-- "aspect.态度.4"), never "|".  A feature that counts a metric bumps it
-- where the fact changes (agg_bump) and adds the fact to agg_facts so
-- that a rebuild counts it too.
--
-- A rebuild in progress keeps its cursor (the creation time up to which
-- it has counted the cases) in K.agg_rebuild: a change to a case it has
-- already counted is applied to the new counts too.  That is the one
-- extra read (HGET), once a script run that bumps anything.
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

local agg_cursor   -- the rebuild's cursor: nil until read, false without one
local function agg_counted(created)
  if agg_cursor == nil then
    agg_cursor = tonumber(redis.call('HGET', K.agg_rebuild, 'cursor')) or false
  end
  return agg_cursor and created <= agg_cursor
end

local function agg_add(prefix, bucket, field, n)
  redis.call('HINCRBY', prefix .. bucket, field, n)
end

-- Adds `n` to `metric` of case `c` ({created, deputy, station, category}):
-- two HINCRBY (day, month), four while a rebuild has passed the case.
local function agg_bump(metric, c, n)
  local created = tonumber(c.created)
  if not created or n == 0 then return end
  local day, month = agg_buckets(created)
  local field = (c.deputy or '') .. '|' .. (c.station or '') .. '|' .. (c.category or '') .. '|' .. metric
  agg_add(K.agg, day, field, n)
  agg_add(K.agg, month, field, n)
  if agg_counted(created) then
    agg_add(K.agg_new, day, field, n)
    agg_add(K.agg_new, month, field, n)
  end
end

-- The metrics case `c` (its hash fields) counts in.
local function agg_facts(c)
  local f = {}
  if c.state and c.state ~= '' then f[#f + 1] = 'state.' .. c.state end
  if c.accepted_at and c.accepted_at ~= '' then f[#f + 1] = 'accepted' end
  if tonumber(c.rating) then f[#f + 1] = 'rating.' .. tonumber(c.rating) end
  return f
end

-- Adds (n = 1) or takes away (n = -1) everything case `c` counts.
local function agg_case(c, n)
  for _, m in ipairs(agg_facts(c)) do agg_bump(m, c, n) end
end
