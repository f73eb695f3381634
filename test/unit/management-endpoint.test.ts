import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { managementEndpoint } from '../../src/delivery.ts';
import type { WebSocketEvent } from '../../src/invocation.ts';

const event = {
  requestContext: {
    domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
    stage: 'prod',
    apiId: 'abc123',
  },
} as WebSocketEvent;

describe('managementEndpoint', () => {
  it('is https://{domainName}/{stage} from the event, as AWS documents', () => {
    assert.equal(
      managementEndpoint(loadConfig({}), event),
      'https://abc123.execute-api.eu-west-1.amazonaws.com/prod',
    );
  });

  it("is the stage's execute-api host behind a custom domain, whose base path is not the stage", () => {
    const custom = {
      requestContext: { domainName: 'chat.example.com', stage: 'prod', apiId: 'abc123' },
    } as WebSocketEvent;
    assert.equal(
      managementEndpoint(loadConfig({ AWS_REGION: 'eu-west-1' }), custom),
      'https://abc123.execute-api.eu-west-1.amazonaws.com/prod',
    );
    assert.equal(
      managementEndpoint(loadConfig({ AWS_REGION: 'cn-north-1' }), custom),
      'https://abc123.execute-api.cn-north-1.amazonaws.com.cn/prod',
    );
  });

  it('is WEBSOCKET_MANAGEMENT_ENDPOINT when configured (custom domains, the local stack)', () => {
    const config = loadConfig({
      WEBSOCKET_MANAGEMENT_ENDPOINT: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod',
    });
    const custom = { requestContext: { domainName: 'chat.example.com', stage: 'prod' } } as WebSocketEvent;
    assert.equal(
      managementEndpoint(config, custom),
      'https://abc123.execute-api.eu-west-1.amazonaws.com/prod',
    );
  });
});
