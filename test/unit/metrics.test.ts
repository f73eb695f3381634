import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { loadConfig } from '../../src/config.ts';
import { invocationLog } from '../../src/invocation.ts';
import { createMetrics, METRIC } from '../../src/metrics.ts';
import { captureStdout } from '../support/capture-stdout.ts';

const log = invocationLog(new Logger({ logLevel: 'SILENT' }), {});

describe('metrics', () => {
  it('publish Embedded Metric Format lines in the configured namespace with a service dimension', () => {
    const metrics = createMetrics(loadConfig({ POWERTOOLS_METRICS_NAMESPACE: 'chat-test' }));
    metrics.count(METRIC.deliveriesFailed, 2);
    metrics.milliseconds(METRIC.fanOutDuration, 12);
    const lines = captureStdout(() => metrics.flush(log))
      .trim()
      .split('\n');
    assert.equal(lines.length, 1);
    const emf = JSON.parse(lines[0] as string);
    const [directive] = emf._aws.CloudWatchMetrics;
    assert.equal(directive.Namespace, 'chat-test');
    assert.deepEqual(directive.Dimensions, [['service']]);
    assert.equal(emf.service, 'roomcast');
    assert.equal(emf.DeliveriesFailed, 2);
    assert.equal(emf.FanOutDuration, 12);
    assert.deepEqual(
      directive.Metrics.map((m: { Name: string; Unit: string }) => `${m.Name}:${m.Unit}`).sort(),
      ['DeliveriesFailed:Count', 'FanOutDuration:Milliseconds'],
    );
  });

  it('print nothing when there is nothing to publish, or when disabled', () => {
    assert.equal(
      captureStdout(() => createMetrics(loadConfig({})).flush(log)),
      '',
    );
    const off = createMetrics(loadConfig({ POWERTOOLS_METRICS_DISABLED: 'true' }));
    off.count(METRIC.messagesReceived);
    assert.equal(
      captureStdout(() => off.flush(log)),
      '',
    );
  });

  it('never throw into a handler', () => {
    const metrics = createMetrics(loadConfig({}));
    assert.doesNotThrow(() => metrics.count(METRIC.messagesReceived, Number.NaN));
    captureStdout(() => metrics.flush(log));
  });
});
