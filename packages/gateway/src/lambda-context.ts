import { randomBytes } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { newUuid } from './ids.js';

export interface InvocationSettlers {
  succeed(result: unknown): void;
  fail(error: unknown): void;
}

export interface LambdaContextInit {
  routeKey: string;
  region: string;
  accountId: string;
  timeoutMs: number;
  /** Receives the deprecated `context.done/succeed/fail` calls. */
  settle: InvocationSettlers;
}

/** `$connect` → `connect`, `sendMessage` → `sendMessage`: Lambda function names allow `[A-Za-z0-9_-]` only. */
export function functionNameFor(routeKey: string): string {
  return routeKey.replace(/^\$/, '').replace(/[^A-Za-z0-9_-]/g, '-') || 'default';
}

export function createLambdaContext({
  routeKey,
  region,
  accountId,
  timeoutMs,
  settle,
}: LambdaContextInit): Context {
  const functionName = functionNameFor(routeKey);
  const deadline = Date.now() + timeoutMs;
  const today = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${accountId}:function:${functionName}`,
    memoryLimitInMB: '128',
    awsRequestId: newUuid(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `${today}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: (error?: Error, result?: unknown) => (error ? settle.fail(error) : settle.succeed(result)),
    fail: (error: Error | string) => settle.fail(error),
    succeed: (result: unknown) => settle.succeed(result),
  };
}
