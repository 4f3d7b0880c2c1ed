// The comparison: a minimal WebSocket relay the way most teams would start.
// Node.js + the npm package `ws`; pairs two connections by a first text message
// "pair <id>", answers "paired" to both, then forwards every binary message to
// the partner unchanged. No queue, no database, no limits.
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 8090);
const waiting = new Map(); // pair id -> the first connection
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });

wss.on('connection', (ws) => {
  ws.peer = null;
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      if (ws.peer && ws.peer.readyState === 1) ws.peer.send(data, { binary: true });
      return;
    }
    const m = /^pair (\S+)$/.exec(data.toString());
    if (!m || ws.pairId) return;
    ws.pairId = m[1];
    const other = waiting.get(m[1]);
    if (other) {
      waiting.delete(m[1]);
      ws.peer = other;
      other.peer = ws;
      ws.send('paired');
      other.send('paired');
    } else {
      waiting.set(m[1], ws);
    }
  });
  ws.on('close', () => {
    if (ws.pairId && waiting.get(ws.pairId) === ws) waiting.delete(ws.pairId);
    if (ws.peer) ws.peer.peer = null;
  });
});
wss.on('listening', () => console.log(`baseline relay listening on 127.0.0.1:${port}`));
