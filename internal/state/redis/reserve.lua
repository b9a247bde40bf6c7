-- Takes up to n tokens at once from a GCRA bucket, the cell limit.lua keeps (the same key and
-- arithmetic, in microseconds), for a node that hands them out locally (sync: batched).
-- KEYS[1]: the key's cell. ARGV: count, period, burst, now, n.
-- Returns {granted (0..n), retry_after (µs until one token is free; 0 when granted > 0)}.
local key = KEYS[1]
local count = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local n = tonumber(ARGV[5])

local t = math.max(math.floor(period / count), 1)
local tau = t * burst
local tat = now
local v = redis.call('GET', key)
if v then tat = math.max(tonumber(v), now) end
-- a token is free while tat + t - now <= tau
local free = math.floor((tau - (tat - now)) / t)
if free < 1 then
  return {0, tat + t - now - tau}
end
local granted = math.min(free, n)
local nxt = tat + granted * t
redis.call('SET', key, string.format('%d', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
return {granted, 0}
