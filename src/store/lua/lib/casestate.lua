-- Every change of a case's state goes through case_moved, in every script
-- that changes one, so that three structures stay exact without a scan:
--   K.gauge        hash state -> number of cases in it (/metrics)
--   K.due .. D     zset of the cases whose state has deadline D, scored
--                  by creation time (lib/overdue.lua counts the overdue)
--   K.agg ..       the statistics' aggregates (lib/agg.lua: "received",
--                  "solved", "closed", "withdrawn")
-- `from` is nil for a case just opened.  case_gauge costs two HINCRBY,
-- plus a ZREM and a ZADD when the deadline changes with the state; the
-- aggregates four HINCRBY for each metric the state changes (agg_bump).
local function case_gauge(id, created, from, to)
  if from == to then return end
  if from then redis.call('HINCRBY', K.gauge, from, -1) end
  redis.call('HINCRBY', K.gauge, to, 1)
  local dfrom = from and SCHEMA.states[from] and SCHEMA.states[from].deadline
  local dto = SCHEMA.states[to] and SCHEMA.states[to].deadline
  if dfrom == dto then return end
  if dfrom then redis.call('ZREM', K.due .. dfrom, id) end
  if dto and tonumber(created) then redis.call('ZADD', K.due .. dto, created, id) end
end

-- `c` is the case ({deputy, station, category}, its hash fields); without
-- it they are read (one HMGET).  Needs lib/agg.lua (--@use agg first).
local function case_moved(id, created, from, to, c)
  if from == to then return end
  case_gauge(id, created, from, to)
  if not c then
    local v = redis.call('HMGET', K.case .. id, 'deputy', 'station', 'category')
    c = { deputy = v[1], station = v[2], category = v[3] }
  end
  agg_state_moved({ created = created, deputy = c.deputy, station = c.station,
                    category = c.category }, from, to)
end
