// The floor under any in-memory credential agent (aws-vault's server modes, ssh-agent's design): Node, node:net and
// one request/answer on a Unix socket, with nothing else. The benchmark itself serves the socket with a fixed
// credential_process answer. Usage: node bench/socket-floor.cjs SOCKET_PATH
'use strict';
const { connect } = require('node:net');

let answer = '';
const socket = connect(process.argv[2]);
socket.setEncoding('utf8');
socket.on('connect', () => socket.write('{"profile":"acme.prep"}\n'));
socket.on('data', (chunk) => (answer += chunk));
socket.on('end', () => {
  if (JSON.parse(answer).AccessKeyId) process.stdout.write('ok\n');
  else process.exitCode = 1;
});
socket.on('error', (e) => {
  process.stderr.write(`socket-floor: ${e.message}\n`);
  process.exitCode = 1;
});
