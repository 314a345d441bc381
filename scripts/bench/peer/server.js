// The peer of `make bench`: the gateway a user could write in an afternoon
// with express and ioredis, doing the first step of mashang's job on the
// same inbound requests (Kannel's GET /sms/kannel): one regex intent, then
// one Lua script of four writes (a case number, the case hash, the deputy's
// queue, the outbound reply queued), 200 when stored.  It sends no replies,
// keeps no history, routes to nobody and has no durability beyond Redis's.
//
//   node server.js PORT REDIS_PORT
'use strict';
const express = require('express');
const Redis = require('ioredis');

const port = Number(process.argv[2]);
const redis = new Redis({ host: '127.0.0.1', port: Number(process.argv[3]) });

const intents = [
  ['road', /(路|道|坑|井盖|塌)/u],
  ['light', /(路灯|灯不亮|黑)/u],
  ['water', /(停水|水管|漏水|污水)/u],
  ['noise', /(噪音|吵|扰民)/u],
];

redis.defineCommand('open', {
  numberOfKeys: 0,
  lua: `
    local id = redis.call('INCR', 'peer:case:seq')
    redis.call('HSET', 'peer:case:' .. id, 'from', ARGV[1], 'text', ARGV[2], 'intent', ARGV[3])
    redis.call('ZADD', 'peer:queue:' .. ARGV[3], id, id)
    redis.call('RPUSH', 'peer:outbox', ARGV[1] .. ' ' .. id)
    return id`,
});

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.get('/sms/kannel', async (req, res) => {
  const from = String(req.query.from || '');
  const text = String(req.query.text || '');
  if (!from || !text) return res.status(400).send('missing from or text');
  let intent = 'other';
  for (const [name, re] of intents) if (re.test(text)) { intent = name; break; }
  try {
    const id = await redis.open(from, text, intent);
    res.status(200).send('M' + id);
  } catch (e) {
    res.status(503).send('retry');
  }
});
app.listen(port, '127.0.0.1');
