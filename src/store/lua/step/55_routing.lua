-- Routing: walk the daemon's plan; several candidates -> fewest open.
local function fewest(list)
  local best, best_n
  local want = {}
  for _, d in ipairs(list or {}) do
    if d ~= '' and people[d] == nil then want[#want + 1] = 'd:' .. d end
  end
  cfg_prefetch(want)
  local cands = {}
  for _, d in ipairs(list or {}) do
    if person(d) then cands[#cands + 1] = d end
  end
  -- One candidate needs no count.
  if #cands == 1 then return cands[1] end
  for _, d in ipairs(cands) do
    local n = redis.call('ZCARD', K.dq .. d)
    if best == nil or n < best_n then best, best_n = d, n end
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
  local n = redis.call('INCR', K.seq_case)
  if n < 1001 then
    n = redis.call('INCRBY', K.seq_case, 1001 - n)
    -- the namespace's first case: the statistics' aggregates hold every
    -- case from here on (lib/agg.lua; older data needs a rebuild)
    redis.call('SET', K.agg_built, nows)
  end
  return opt.prefix .. n
end

