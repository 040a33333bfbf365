-- wrk script: every request carries a different query string and the
-- header fields a current Chromium (131, Linux) sends for a top-level
-- navigation, so the head is as long and varied as a browser's: the
-- parser cannot reuse the previous request's whole-head parse.
local counter = 0
local fields = {
  ["Host"] = "127.0.0.1",
  ["Connection"] = "keep-alive",
  ["sec-ch-ua"] = '"Chromium";v="131", "Not_A Brand";v="24"',
  ["sec-ch-ua-mobile"] = "?0",
  ["sec-ch-ua-platform"] = '"Linux"',
  ["Upgrade-Insecure-Requests"] = "1",
  ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  ["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8",
  ["Sec-Fetch-Site"] = "none",
  ["Sec-Fetch-Mode"] = "navigate",
  ["Sec-Fetch-User"] = "?1",
  ["Sec-Fetch-Dest"] = "document",
  ["Accept-Encoding"] = "gzip, deflate, br, zstd",
  ["Accept-Language"] = "en-US,en;q=0.9",
}
request = function()
  counter = counter + 1
  return wrk.format("GET", wrk.path .. "?n=" .. counter, fields)
end
