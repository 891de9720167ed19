-- wrk script for bench/webhook_ingest.py: replay pre-signed webhook requests, each once.
--
-- Usage: wrk -t1 -cC -dMAXs -s bench/replay.lua URL -- REQUEST_FILE COUNT DONE_FILE [STATUS]
--
-- REQUEST_FILE starts with one line of tab-separated header names; every further line is one
-- request: the values of those headers, in that order, then the body, all tab-separated (no
-- tab or newline inside a field). The script sends the first COUNT requests in order, counts the
-- responses, and when the COUNT-th response has arrived it records the elapsed wall time,
-- writes DONE_FILE (the bench then sends wrk SIGINT so it prints its summary at once), and
-- stops the thread. Connections that free up after COUNT requests were sent, before the
-- COUNT-th response came back, re-send the earliest requests (duplicates: answered 200,
-- nothing stored). At most connections-1 of them are in flight at the end; the bench reports
-- `sent - COUNT`. wrk cannot tell which request an answer belongs to, so if one of those
-- duplicates is answered before the last original, it is among the COUNT counted answers.
-- Must run with one thread (-t1): the counters live in that thread's Lua state. STATUS is the
-- answer expected (default 200; bench/api_send.py expects 202 from textbridge); any other
-- is counted in non200.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } tb_timespec;
int clock_gettime(int clk_id, tb_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("tb_timespec")

local function now()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
   return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

-- Per-thread state (read back in done() through thread:get).
local requests = {}
local total = 0
local done_file = nil
local path = nil
local expected = 200
sent = 0
responses = 0
non200 = 0
statuses = ""
first_sent_at = 0
finished_at = 0

local function split_tabs(line)
   local fields = {}
   for field in (line .. "\t"):gmatch("([^\t]*)\t") do
      table.insert(fields, field)
   end
   return fields
end

function init(args)
   local request_file, count = args[1], tonumber(args[2])
   done_file = args[3]
   expected = tonumber(args[4] or "200")
   path = wrk.path
   local handle = assert(io.open(request_file, "r"))
   local names = split_tabs(assert(handle:read("*l"), "request file is empty"))
   for line in handle:lines() do
      if #requests >= count then
         break
      end
      local fields = split_tabs(line)
      assert(#fields == #names + 1, "request line with " .. #fields .. " fields")
      local headers = {}
      for i, name in ipairs(names) do
         headers[name] = fields[i]
      end
      table.insert(requests, wrk.format("POST", path, headers, fields[#names + 1]))
   end
   handle:close()
   total = #requests
   assert(total == count, "request file has " .. total .. " requests, " .. count .. " wanted")
end

function request()
   if sent == 0 then
      first_sent_at = now()
   end
   sent = sent + 1
   -- After every request was sent once, cycle (duplicates) until the last answer arrives.
   return requests[((sent - 1) % total) + 1]
end

local seen = {}

function response(status, headers, body)
   responses = responses + 1
   if status ~= expected then
      non200 = non200 + 1
      if not seen[status] then
         seen[status] = true
         statuses = statuses .. tostring(status) .. " "
      end
   end
   if responses == total then
      finished_at = now()
      local marker = assert(io.open(done_file, "w"))
      marker:write("done\n")
      marker:close()
      wrk.thread:stop()
   end
end

function done(summary, latency, _)
   local thread = threads[1]
   local elapsed = thread:get("finished_at") - thread:get("first_sent_at")
   local e = summary.errors
   local lines = {
      "TB responses=" .. thread:get("responses"),
      "TB sent=" .. thread:get("sent"),
      "TB non200=" .. thread:get("non200"),
      "TB non200_statuses=" .. thread:get("statuses"),
      "TB elapsed_s=" .. string.format("%.6f", elapsed),
      "TB wrk_requests=" .. summary.requests,
      "TB wrk_duration_us=" .. summary.duration,
      "TB socket_errors=" .. (e.connect + e.read + e.write + e.timeout),
      "TB status_errors=" .. e.status,
      "TB p50_us=" .. latency:percentile(50),
      "TB p90_us=" .. latency:percentile(90),
      "TB p99_us=" .. latency:percentile(99),
      "TB max_us=" .. latency.max,
      "TB mean_us=" .. string.format("%.1f", latency.mean),
   }
   io.write(table.concat(lines, "\n") .. "\n")
end
