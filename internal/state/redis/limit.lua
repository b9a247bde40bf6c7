-- One rate-limit decision, the same arithmetic as internal/state/algorithms.go, in
-- microseconds. KEYS[1]: the key's cell. ARGV: algorithm (0 gcra, 1 fixed_window,
-- 2 sliding_window, 3 sliding_log), count, period, burst, now, window start, window end.
-- Returns {allowed (0/1), limit, remaining, reset, retry_after}.
local key = KEYS[1]
local alg = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
local wstart = tonumber(ARGV[6])
local wend = tonumber(ARGV[7])

-- int formats a whole number without the exponent Lua's %.14g would give 16-digit times.
local function int(x) return string.format('%d', x) end
-- expire drops the cell once it is back to a fresh key's state (at, in µs).
local function expire(at) redis.call('PEXPIRE', key, math.max(math.ceil((at - now) / 1000), 1) + 1) end

if alg == 0 then
  local t = math.max(math.floor(period / count), 1)
  local tau = t * burst
  local tat = now
  local v = redis.call('GET', key)
  if v then tat = math.max(tonumber(v), now) end
  local nxt = tat + t
  if nxt - now > tau then
    return {0, burst, 0, tat - now, nxt - now - tau}
  end
  redis.call('SET', key, int(nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
  return {1, burst, math.floor((tau - (nxt - now)) / t), nxt - now, 0}
end

if alg == 1 then
  local c = redis.call('HMGET', key, 's', 'n')
  local n = 0
  if tonumber(c[1]) == wstart then n = tonumber(c[2]) end
  if n >= count then
    return {0, count, 0, wend - now, wend - now}
  end
  redis.call('HSET', key, 's', int(wstart), 'n', n + 1)
  expire(wend)
  return {1, count, count - n - 1, wend - now, 0}
end

if alg == 2 then
  local c = redis.call('HMGET', key, 's', 'n', 'p')
  local s, cur, prev = tonumber(c[1]), tonumber(c[2]) or 0, tonumber(c[3]) or 0
  if s ~= wstart then
    if s == wstart - period then prev = cur else prev = 0 end
    cur = 0
  end
  local est = prev * (wend - now) / period + cur
  local room = count - 1
  if est > room then
    local retry
    if cur <= room and prev > 0 then
      retry = (wend - now) - math.floor(period * (room - cur) / prev)
    else
      retry = (wend - now) + math.floor(period - period * room / cur)
    end
    return {0, count, 0, wend - now, math.max(retry, 1)}
  end
  redis.call('HSET', key, 's', int(wstart), 'n', cur + 1, 'p', prev)
  expire(wend + period)
  return {1, count, math.max(math.floor(count - est - 1), 0), wend - now, 0}
end

-- sliding log: a list of request times, oldest first
while true do
  local oldest = redis.call('LINDEX', key, 0)
  if not oldest or tonumber(oldest) > now - period then break end
  redis.call('LPOP', key)
end
local n = redis.call('LLEN', key)
if n >= count then
  local oldest = tonumber(redis.call('LINDEX', key, 0))
  local newest = tonumber(redis.call('LINDEX', key, -1))
  return {0, count, 0, newest + period - now, oldest + period - now}
end
redis.call('RPUSH', key, int(now))
expire(now + period)
return {1, count, count - n - 1, period, 0}
