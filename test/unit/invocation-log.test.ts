import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { invocationLog } from '../../src/invocation.ts';
import { captureOutput } from '../support/capture-stdout.ts';

const keys = { route: 'sendMessage', connection_id: 'c1', request_id: 'r1', aws_request_id: 'a1' };
const lines = (out: string) =>
  out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));

describe('invocationLog', () => {
  it("puts the invocation's keys and the call's attributes on every line, at the logger's level", () => {
    const log = invocationLog(new Logger({ serviceName: 'roomcast', logLevel: 'INFO' }), keys);
    const out = captureOutput(() => {
      log.debug('hidden', { x: 1 });
      log.info('message delivered', { room_id: 'lobby', delivered: 3 });
      log.warn('no attributes');
    });
    const [delivered, warned, ...rest] = lines(out);
    assert.equal(rest.length, 0, 'debug is below INFO');
    assert.equal(delivered.level, 'INFO');
    assert.equal(delivered.message, 'message delivered');
    assert.equal(delivered.service, 'roomcast');
    assert.deepEqual(
      { ...keys, room_id: 'lobby', delivered: 3 },
      Object.fromEntries(Object.keys({ ...keys, room_id: 1, delivered: 1 }).map((k) => [k, delivered[k]])),
    );
    assert.equal(warned.level, 'WARN');
    assert.equal(warned.connection_id, 'c1');
  });

  it('formats an Error attribute as Powertools does, and concurrent invocations keep their own keys', () => {
    const logger = new Logger({ serviceName: 'roomcast', logLevel: 'INFO' });
    const first = invocationLog(logger, { ...keys, connection_id: 'first' });
    const second = invocationLog(logger, { ...keys, connection_id: 'second' });
    const out = captureOutput(() => {
      first.error('route failed', { error: new TypeError('boom') });
      second.info('connected');
      first.info('still first');
    });
    const [failed, connected, again] = lines(out);
    assert.equal(failed.error.name, 'TypeError');
    assert.equal(failed.error.message, 'boom');
    assert.match(failed.error.stack, /invocation-log\.test\.ts/);
    assert.deepEqual(
      [failed.connection_id, connected.connection_id, again.connection_id],
      ['first', 'second', 'first'],
    );
  });
});
