-- A stand-in for one mashang step (src/store/lua/step.lua) for redis-benchmark:
-- ARGV[1] commands on keys around KEYS[1], the mix of reads and writes a
-- step does (hash reads, hash writes, a counter, a list push, a zset add),
-- so "EVALSHA of this" per second is Redis's ceiling in messages per second.
local k = KEYS[1]
local n = tonumber(ARGV[1]) or 1
for i = 1, n do
  local m = i % 6
  if m == 0 then redis.call('HSET', k .. ':h', 'f' .. i, i)
  elseif m == 1 then redis.call('HGET', k .. ':cfg', 'f1')
  elseif m == 2 then redis.call('INCR', k .. ':n')
  elseif m == 3 then redis.call('ZADD', k .. ':z', i, 'm' .. i)
  elseif m == 4 then redis.call('RPUSH', k .. ':l', i)
  else redis.call('GET', k) end
end
redis.call('DEL', k .. ':l')
return 1
