// irc-framework over its WebSocket transport, as Kiwi IRC uses it: joins
// #lobby, says hello, waits for a netcat user's answer, and leaves.
// Usage: node --experimental-websocket irc_framework_client.js PORT
// Prints one JSON line per thing it saw; exits 0 once done, 1 on a timeout.
'use strict';

const IRC = require('irc-framework');
const WebSocketTransport = require('irc-framework/src/transports/websocket');

const port = Number(process.argv[2]);
const client = new IRC.Client();
const say = (what) => console.log(JSON.stringify(what));
const deadline = setTimeout(() => { say({ timeout: true }); process.exit(1); }, 20000);

client.on('registered', () => {
  say({ registered: client.user.nick });
  client.join('#lobby');
});
client.on('join', (event) => {
  if (event.nick === client.user.nick) {
    say({ joined: event.channel });
    client.say('#lobby', 'hello from irc-framework');
  }
});
client.on('message', (event) => {
  say({ message: event.message, from: event.nick, target: event.target });
  if (event.message === 'hi kiwi') client.quit('bye');
});
client.on('close', () => {
  say({ closed: true });
  clearTimeout(deadline);
  process.exit(0);
});
client.connect({
  host: '127.0.0.1',
  port,
  nick: 'kiwi',
  transport: WebSocketTransport,
  websocket_protocol: 'text.ircv3.net',
  auto_reconnect: false,
});
