-- wrk: each request checks a random number, 9 in 10 registered (issue 15 §5).
math.randomseed(15)
request = function()
  local n = math.random(0, 1111110)
  local number
  if n < 1000000 then
    number = string.format("138%08d", n)
  else
    number = string.format("139%08d", n)
  end
  return wrk.format("GET", "/api/public/number-check/?number=" .. number)
end
