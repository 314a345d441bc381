-- One inbound message, handled atomically: dedupe, the case work it asks
-- for, and every reply it causes, queued in the durable outbox.
--
-- The function <library>_step.  KEYS[1] is the key prefix "{ns}:" (one
-- hash tag, so the script stays valid on Redis Cluster).  ARGV[1] is the envelope built by the daemon
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
--@state
-- This module is joined unwrapped (--@state): the call's state below is
-- in scope for every module.  The library is loaded once (FUNCTION LOAD)
-- and each message is one FCALL: nothing here may keep a value from one
-- call to the next, so every variable of the call is set again by
-- step_begin, first thing in each call.  A module that needs state of
-- its own for a call declares it here and resets it in step_begin.
local S = SCHEMA.S
local P, env, now, nows, msg, intent, slots, CFG   -- the call and its envelope
local seen, seen_ttl                                -- the dedupe key (below)
local cfg_cache, opt, people, ASPECTS               -- 10_config.lua, 68_revisit.lua
local outn, looped, outq, leased, passive, hush     -- 20_outbox.lua
local via_cache                                     -- 30_people.lua
local may                                           -- 40_cases.lua
local RK, RCASES, rk_cache                          -- 45_addresses.lua

-- The start of every call: the call's state set afresh, then the dedupe
-- check; returns the answer to a duplicate, else nil.
local function step_begin(keys, args)
  P = keys[1]
  env = cjson.decode(args[1])
  now = tonumber(env.now)
  nows = math.floor(now / 1000)
  msg = env.msg or {}
  intent = env.intent or {}
  slots = intent.slots or {}
  CFG = K.cfg .. env.cfg
  cfg_cache, opt, people, ASPECTS = {}, {}, {}, {}
  outn, looped, outq, leased, passive, hush = 0, 0, {}, {}, {}, { on = false }
  via_cache = {}
  -- The events this message may cause (env.tr, their names), as a set.
  may = {}
  for _, ev in ipairs(env.tr or {}) do may[ev] = true end
  -- The sender's resident hash and case list (res_key, rcases_key).
  RK = msg.channel and K.res .. msg.channel .. ':' .. msg.addr
  RCASES = msg.channel and K.rcases .. msg.channel .. ':' .. msg.addr
  rk_cache = nil

  -- Dedupe: on the platform's message id, else on sender + text briefly.
  if env.mode then   -- tick, assign: not a message
    seen, seen_ttl = nil, nil
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
  return nil
end

local function hget(k, f)
  local v = redis.call('HGET', k, f)
  if v == false then return nil end
  return v
end
