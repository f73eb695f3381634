import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameSizeGuard } from '../src/connections.js';
import { routeResponseOf } from '../src/invoke.js';

/** A client frame: FIN, opcode, masked, with the given payload length (payload bytes are zero). */
function frame(opcode: number, length: number, fin = true): Buffer {
  const lengthBytes = length < 126 ? [length] : length < 65_536 ? [126, length >> 8, length & 0xff] : null;
  const extended = lengthBytes ?? [
    127,
    0,
    0,
    0,
    0,
    (length >>> 24) & 0xff,
    (length >>> 16) & 0xff,
    (length >>> 8) & 0xff,
    length & 0xff,
  ];
  const [first, ...rest] = extended as [number, ...number[]];
  return Buffer.concat([
    Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | first, ...rest, 1, 2, 3, 4]),
    Buffer.alloc(length),
  ]);
}

test('frame guard: data frames up to the limit pass, in any chunking', () => {
  const stream = Buffer.concat([
    frame(1, 10, false),
    frame(0, 32_768),
    frame(9, 4),
    frame(2, 70_000).subarray(0, 0),
    frame(1, 126),
    frame(1, 0),
  ]);
  for (const chunkSize of [1, 3, 7, 1000, stream.length]) {
    const guard = new FrameSizeGuard(32_768);
    for (let i = 0; i < stream.length; i += chunkSize)
      assert.ok(guard.push(stream.subarray(i, i + chunkSize)));
  }
});

test('frame guard: a data frame over the limit is reported, also with a 64-bit length', () => {
  for (const oversized of [frame(1, 32_769), frame(0, 40_000), frame(2, 70_000)]) {
    const guard = new FrameSizeGuard(32_768);
    assert.ok(guard.push(frame(1, 5)));
    assert.equal(guard.push(oversized.subarray(0, 14)), false);
    assert.equal(guard.push(Buffer.from([0])), false, 'stays violated');
  }
});

test('route responses: body as one frame, nothing for empty bodies, malformed non-string bodies', () => {
  assert.deepEqual(routeResponseOf({ statusCode: 500, body: 'x' }), { send: true, data: 'x', binary: false });
  assert.deepEqual(routeResponseOf('plain'), { send: true, data: 'plain', binary: false });
  for (const nothing of [
    undefined,
    null,
    42,
    '',
    {},
    { body: '' },
    { body: null },
    { body: '', isBase64Encoded: true },
  ]) {
    assert.deepEqual(routeResponseOf(nothing), { send: false, malformed: false }, JSON.stringify(nothing));
  }
  assert.deepEqual(routeResponseOf({ body: 7 }), { send: false, malformed: true });
  assert.deepEqual(routeResponseOf({ body: Buffer.from('hé').toString('base64'), isBase64Encoded: true }), {
    send: true,
    data: 'hé',
    binary: false,
  });
  const binary = routeResponseOf({ body: Buffer.from([0xff]).toString('base64'), isBase64Encoded: true });
  assert.deepEqual(binary, { send: true, data: Buffer.from([0xff]), binary: true });
});
