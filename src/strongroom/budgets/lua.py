"""The one Redis script behind `RedisBackend`, run atomically by Redis (EVALSHA). It mirrors
`window.py` step for step; times go back to Python as bucket indices or stored scores, never
as Lua floats, so both backends compute the same Retry-After to the bit.

Keys per charge: kind c (requests, records) and s (exact subjects) use [main, would_refuse];
kind h (subjects as HyperLogLogs, for large limits) uses [would_refuse, bucket..] with one
HLL per sub-window, oldest first. An optional last key holds the principal's last keys.

ARGV: mode (reserve | settle | read), now, N, HN, meta, meta_ttl_ms, n, then per charge:
kind, limit, window, cur, hcur, amount, shadow, aux, nsub, subject x nsub.
aux: settle c -> the bucket index charged at reserve; s -> the cutoff score (now - window).

Reply: reserve -> {granted, then per charge used, wait, reset, would_refuse}; settle and
read -> the per-charge quadruples. wait and reset are -1 (none), -2 (never fits), a bucket
index (c, h), or a score string (s).
"""

SCRIPT = r"""
local mode = ARGV[1]
local now_s = ARGV[2]
local N = tonumber(ARGV[3])
local HN = tonumber(ARGV[4])
local meta = ARGV[5]
local meta_ttl = tonumber(ARGV[6])
local n = tonumber(ARGV[7])

local charges = {}
local a, k = 8, 1
for j = 1, n do
  local c = {kind = ARGV[a], limit = tonumber(ARGV[a + 1]), window = tonumber(ARGV[a + 2]),
             cur = tonumber(ARGV[a + 3]), hcur = tonumber(ARGV[a + 4]),
             amount = tonumber(ARGV[a + 5]), shadow = ARGV[a + 6] == '1', aux = ARGV[a + 7],
             subs = {}}
  local nsub = tonumber(ARGV[a + 8])
  for s = 1, nsub do c.subs[s] = ARGV[a + 8 + s] end
  a = a + 9 + nsub
  if c.kind == 'h' then
    c.wr = KEYS[k]
    c.hkeys = {}
    for h = 1, HN + 1 do c.hkeys[h] = KEYS[k + h] end
    k = k + 2 + HN
  else
    c.key, c.wr = KEYS[k], KEYS[k + 1]
    k = k + 2
  end
  charges[j] = c
end

local function ttl(window, buckets)
  return math.ceil(window * 1000 * (buckets + 2) / buckets)
end

local function counter(key, cur, need, limit)
  local raw = redis.call('HGETALL', key)
  local alive, stale = {}, {}
  for j = 1, #raw, 2 do
    local i, c = tonumber(raw[j]), tonumber(raw[j + 1])
    if i >= cur - N and c > 0 then alive[#alive + 1] = {i, c} else stale[#stale + 1] = raw[j] end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  table.sort(alive, function(x, y) return x[1] < y[1] end)
  local used = 0
  for _, e in ipairs(alive) do used = used + e[2] end
  local reset = -1
  if #alive > 0 then reset = alive[1][1] end
  local over = used + need - limit
  local wait = -1
  if over > 0 then
    if need > limit then
      wait = -2
    else
      local freed = 0
      for _, e in ipairs(alive) do
        freed = freed + e[2]
        if freed >= over then wait = e[1]; break end
      end
    end
  end
  return used, wait, reset
end

local function subjects(c, need)
  redis.call('ZREMRANGEBYSCORE', c.key, '-inf', c.aux)
  local used = redis.call('ZCARD', c.key)
  local reset, wait = -1, -1
  if used > 0 then reset = redis.call('ZRANGE', c.key, 0, 0, 'WITHSCORES')[2] end
  local over = used + need - c.limit
  if need > 0 and over > 0 then
    wait = redis.call('ZRANGE', c.key, over - 1, over - 1, 'WITHSCORES')[2]
  end
  return used, wait, reset
end

local function hll(c, need)
  local used = redis.call('PFCOUNT', unpack(c.hkeys))
  local reset, wait = -1, -1
  for h = 1, #c.hkeys do
    if redis.call('EXISTS', c.hkeys[h]) == 1 then reset = c.hcur - (#c.hkeys - h); break end
  end
  if need > 0 and used + need > c.limit then
    if reset == -1 then wait = -2 else wait = reset end
  end
  return used, wait, reset
end

local function view(c, need)
  if c.kind == 'c' then return counter(c.key, c.cur, need, c.limit) end
  if c.kind == 's' then return subjects(c, need) end
  return hll(c, need)
end

local function need_of(c)
  if c.kind == 'c' then return c.amount end
  return 1
end

local out = {}
if mode == 'reserve' then
  local views, granted = {}, 1
  for j, c in ipairs(charges) do
    local used, wait, reset = view(c, need_of(c))
    views[j] = {used, wait, reset}
    if wait ~= -1 and not c.shadow then granted = 0 end
  end
  out[1] = granted
  for j, c in ipairs(charges) do
    local v = views[j]
    if granted == 1 then
      if c.kind == 'c' and c.amount > 0 then
        redis.call('HINCRBY', c.key, c.cur, c.amount)
        redis.call('PEXPIRE', c.key, ttl(c.window, N))
        local reset = v[3]
        if v[1] == 0 then reset = c.cur end
        v = {v[1] + c.amount, -1, reset, 0}
      else
        v = {v[1], -1, v[3], 0}
      end
      if views[j][2] ~= -1 then
        redis.call('HINCRBY', c.wr, c.cur, 1)
        redis.call('PEXPIRE', c.wr, ttl(c.window, N))
        v[4] = 1
      end
    else
      v[4] = 0
    end
    for _, x in ipairs(v) do out[#out + 1] = x end
  end
  if granted == 1 and meta ~= '' then
    redis.call('SET', KEYS[#KEYS], meta, 'PX', meta_ttl)
  end
  return out
end

for _, c in ipairs(charges) do
  if mode == 'settle' then
    if c.kind == 'c' and c.amount > 0 then
      local ridx = tonumber(c.aux)
      if ridx >= c.cur - N then
        local v = redis.call('HGET', c.key, ridx)
        if v then
          local left = tonumber(v) - c.amount
          if left < 0 then left = 0 end
          redis.call('HSET', c.key, ridx, left)
        end
      end
    elseif c.kind == 'c' and c.amount < 0 then
      redis.call('HINCRBY', c.key, c.cur, -c.amount)
      redis.call('PEXPIRE', c.key, ttl(c.window, N))
    elseif c.kind == 's' and #c.subs > 0 then
      local args = {}
      for i, s in ipairs(c.subs) do
        args[#args + 1] = now_s
        args[#args + 1] = s
        if #args >= 1000 or i == #c.subs then
          redis.call('ZADD', c.key, 'GT', unpack(args))
          args = {}
        end
      end
      redis.call('PEXPIRE', c.key, math.ceil(c.window * 1000) + 1000)
    elseif c.kind == 'h' and #c.subs > 0 then
      local key = c.hkeys[#c.hkeys]
      for i = 1, #c.subs, 500 do
        redis.call('PFADD', key, unpack(c.subs, i, math.min(i + 499, #c.subs)))
      end
      redis.call('PEXPIRE', key, ttl(c.window, HN))
    end
  end
  local used, _, reset = view(c, 0)
  local wr = 0
  if mode == 'read' then wr = counter(c.wr, c.cur, 0, c.limit) end
  out[#out + 1] = used
  out[#out + 1] = -1
  out[#out + 1] = reset
  out[#out + 1] = wr
end
return out
"""
