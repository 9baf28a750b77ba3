// Interop: the third-party client @stomp/stompjs (over @stomp/tcp-wrapper) against a real node process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@stomp/stompjs';
import { TCPWrapper } from '@stomp/tcp-wrapper';
import { startNode } from './node-process.mjs';

let node;
before(async () => { node = await startNode(); });
after(async () => { await node?.stop(); });

function connect(extraHeaders = {}) {
  return new Promise((resolve, reject) => {
    const client = new Client({
      webSocketFactory: () => new TCPWrapper('127.0.0.1', node.port),
      connectHeaders: { host: 'localhost', login: 'guest', passcode: 'guest', ...extraHeaders },
      heartbeatIncoming: 0, heartbeatOutgoing: 0, reconnectDelay: 0,
      debug: () => {},
      onConnect: () => resolve(client),
      onStompError: f => reject(new Error(`STOMP ERROR: ${f.headers.message}`)),
      onWebSocketError: () => reject(new Error('socket error')),
    });
    client.activate();
  });
}

const receipt = (client, id) => new Promise(r => client.watchForReceipt(id, r));

async function sendWithReceipt(client, destination, body, headers = {}) {
  const id = `r-${Math.random().toString(36).slice(2)}`;
  const got = receipt(client, id);
  client.publish({ destination, body, headers: { persistent: 'true', receipt: id, ...headers } });
  await got;
}

/** Collects MESSAGE frames of one subscription; next() resolves with the next one. */
function collector() {
  const queue = [], waiters = [];
  return {
    push(m) { const w = waiters.shift(); if (w) w(m); else queue.push(m); },
    next(timeoutMs = 10000) {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error('no message within timeout')), timeoutMs);
        waiters.push(m => { clearTimeout(t); res(m); });
      });
    },
  };
}

async function close(client) { await client.deactivate(); }

describe('ActorBroker with @stomp/stompjs', () => {
  test('send with receipt, subscribe, receive body and user headers, ack', async () => {
    const c = await connect();
    await sendWithReceipt(c, '/queue/interop.basic', 'hello', { 'x-order': '42' });
    const got = collector();
    c.subscribe('/queue/interop.basic', m => got.push(m), { ack: 'client-individual' });
    const m = await got.next();
    assert.equal(m.body, 'hello');
    assert.equal(m.headers['x-order'], '42');
    assert.ok(m.headers['message-id']);
    const r = receipt(c, 'ack-1');
    m.ack({ receipt: 'ack-1' });
    await r;
    await close(c);
  });

  test('nack redelivers the message flagged redelivered', async () => {
    const c = await connect();
    await sendWithReceipt(c, '/queue/interop.nack', 'again');
    const got = collector();
    c.subscribe('/queue/interop.nack', m => got.push(m), { ack: 'client-individual' });
    const first = await got.next();
    assert.equal(first.headers.redelivered, undefined);
    first.nack();
    const second = await got.next();
    assert.equal(second.body, 'again');
    assert.equal(second.headers.redelivered, 'true');
    second.ack();
    await close(c);
  });

  test('a committed transaction delivers, an aborted one does not', async () => {
    const producer = await connect();
    const aborted = producer.begin();
    producer.publish({ destination: '/queue/interop.tx', body: 'aborted', headers: { persistent: 'true', transaction: aborted.id } });
    aborted.abort();
    const committed = producer.begin();
    producer.publish({ destination: '/queue/interop.tx', body: 'committed', headers: { persistent: 'true', transaction: committed.id } });
    committed.commit();
    const consumer = await connect();
    const got = collector();
    consumer.subscribe('/queue/interop.tx', m => got.push(m), { ack: 'auto' });
    const m = await got.next();
    assert.equal(m.body, 'committed');
    await assert.rejects(got.next(1000), /no message/);
    await close(producer);
    await close(consumer);
  });

  test('a durable topic subscription receives what was published while away', async () => {
    const sub = await connect({ 'client-id': 'interop-durable' });
    const headers = { ack: 'client-individual', 'activemq.subscriptionName': 'sub1', receipt: 'sub-1' };
    const subscribed = receipt(sub, 'sub-1');
    sub.subscribe('/topic/interop.news', () => {}, headers);
    await subscribed;
    await close(sub);

    const pub = await connect();
    await sendWithReceipt(pub, '/topic/interop.news', 'while away');
    await close(pub);

    const back = await connect({ 'client-id': 'interop-durable' });
    const got = collector();
    back.subscribe('/topic/interop.news', m => got.push(m), { ack: 'client-individual', 'activemq.subscriptionName': 'sub1' });
    const m = await got.next();
    assert.equal(m.body, 'while away');
    m.ack();
    await close(back);
  });
});
