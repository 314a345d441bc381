-- Every change of a case's state goes through case_moved, in every script
-- that changes one, so that two structures stay exact without a scan:
--   K.gauge        hash state -> number of cases in it (/metrics)
--   K.due .. D     zset of the cases whose state has deadline D, scored
--                  by creation time (lib/overdue.lua counts the overdue)
-- `from` is nil for a case just opened.  Costs two HINCRBY, plus a ZREM
-- and a ZADD when the deadline changes with the state.
local function case_moved(id, created, from, to)
  if from == to then return end
  if from then redis.call('HINCRBY', K.gauge, from, -1) end
  redis.call('HINCRBY', K.gauge, to, 1)
  local dfrom = from and SCHEMA.states[from] and SCHEMA.states[from].deadline
  local dto = SCHEMA.states[to] and SCHEMA.states[to].deadline
  if dfrom == dto then return end
  if dfrom then redis.call('ZREM', K.due .. dfrom, id) end
  if dto and tonumber(created) then redis.call('ZADD', K.due .. dto, created, id) end
end
