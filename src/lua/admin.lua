-- Administrators' operations.  KEYS[1] prefix; ARGV[1] operation, then its arguments.
local op = ARGV[1]
return redis.error_reply('ERR unknown admin operation ' .. tostring(op))
