-- One inbound message, handled atomically: dedupe, the case work it asks
-- for, and every reply it causes, queued in the durable outbox.
--
-- KEYS[1] is the key prefix "{ns}:" (one hash tag, so the script stays
-- valid on Redis Cluster).  ARGV[1] is the envelope built by the daemon
-- (src/core/step.c): the message, who sent it, the matched intent, the
-- routing plan and the lifecycle events allowed for this intent ("tr",
-- their names; where each leads is the schema's).  Reply texts, category
-- names, the roster directory and the settings (timers, limits, the case
-- prefix) are read from the "{ns}:cfg:<digest>" hash the daemon writes at
-- start and reload (src/core/directory.c).
--
-- Nothing may fail after the first write: inputs are checked first.
--
-- The script is the modules of src/store/lua/step/, joined in file-name
-- order after the shared ones it names here (docs/lua.md):
--@use schema
--@use keys
--@use render
--@use agg
--@use casestate
--@use history
--@use cplace
local S = SCHEMA.S
local P = KEYS[1]
local env = cjson.decode(ARGV[1])
local now = tonumber(env.now)
local nows = math.floor(now / 1000)
local msg = env.msg or {}
local intent = env.intent or {}
local slots = intent.slots or {}
local CFG = K.cfg .. env.cfg

-- Dedupe: on the platform's message id, else on sender + text briefly.
local seen, seen_ttl
if env.mode then   -- tick, assign: not a message
  seen = nil
elseif msg.id and msg.id ~= '' then
  seen = K.seen .. msg.channel .. ':' .. msg.id
  seen_ttl = false   -- the setting dedupe_s (opt, 10_config.lua)
else
  seen = K.seen .. msg.channel .. ':' .. msg.addr .. ':' .. redis.sha1hex(msg.text)
  seen_ttl = 10
end
if seen then
  local prev = redis.call('GET', seen)
  if prev then
    -- A retried push gets the same passive reply it was owed.
    local sep = string.find(prev, '\n', 1, true)
    if sep then return { 'duplicate', string.sub(prev, 1, sep - 1), 0, string.sub(prev, sep + 1) } end
    return { 'duplicate', prev, 0, '' }
  end
end

local function hget(k, f)
  local v = redis.call('HGET', k, f)
  if v == false then return nil end
  return v
end
