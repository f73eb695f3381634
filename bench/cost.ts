/**
 * Cost per broadcast from the operations counted during a fan-out (bench/servers/sdk-meter.ts), priced with the
 * US East prices from AWS's pricing pages (infra/terraform/README.md, "Cost model", lists them with their links).
 */
import type { FanOutResult } from './driver/fan-out.ts';
import type { SdkCounters } from './servers/ipc.ts';

export const PRICES = {
  apiGatewayMessagePerMillion: 1.0,
  dynamoWruPerMillion: 0.625,
  dynamoRruPerMillion: 0.125,
  lambdaRequestPerMillion: 0.2,
  /** arm64, first 7.5 B GB-s a month. */
  lambdaGbSecond: 0.0000133334,
  lambdaMemoryGb: 0.25,
} as const;

export interface CostRow {
  server: string;
  n: number;
  /** `measured` from the counted operations, `model` scaled from the largest measured N. */
  basis: 'measured' | 'model';
  /** Per broadcast (one sendMessage frame to a room of N). */
  inboundMessages: number;
  outboundMessages: number;
  rru: number;
  wru: number;
  apiGatewayUsd: number;
  dynamoUsd: number;
  lambdaRequestUsd: number;
  /** Indicative only: a 256 MB arm64 invocation lasting the local send→last-delivery p50. */
  lambdaDurationUsd: number;
  totalPerMillionBroadcastsUsd: number;
  /** Per `$connect` during the connect phase (presence included). */
  connect?: { rru: number; wru: number; posts: number; gonePosts: number; failedConditionalWrites: number };
}

export function costRows(server: string, results: FanOutResult[], modelNs: number[]): CostRow[] {
  const rows: CostRow[] = [];
  for (const result of results) {
    const phase = result.sequential;
    if (!phase?.sdk || phase.sent === 0) continue;
    rows.push(priced(server, result.n, 'measured', perBroadcast(phase.sdk, phase.sent), phase.p50Ms, result));
  }
  const largest = rows.at(-1);
  if (largest) {
    for (const n of modelNs) {
      if (rows.some((row) => row.n === n)) continue;
      // Posts and index bytes grow with N; the sender's GetItem and the message PutItem do not.
      const fixedRru = largest.rru - queryRru(largest);
      const perMemberRru = queryRru(largest) / largest.n;
      const scaled = {
        inbound: largest.inboundMessages,
        outbound: (largest.outboundMessages / largest.n) * n,
        rru: fixedRru + Math.max(0.5, Math.ceil((perMemberRru * n) / 0.5) * 0.5),
        wru: largest.wru,
      };
      const p50 = results.at(-1)?.sequential?.p50Ms ?? 0;
      rows.push(priced(server, n, 'model', scaled, (p50 / largest.n) * n));
    }
  }
  return rows.sort((a, b) => a.n - b.n);
}

interface PerBroadcast {
  inbound: number;
  outbound: number;
  rru: number;
  wru: number;
}

function perBroadcast(sdk: SdkCounters, broadcasts: number): PerBroadcast {
  return {
    inbound: 1,
    outbound: sdk.postUnits / broadcasts,
    rru: sdk.rru / broadcasts,
    wru: sdk.wru / broadcasts,
  };
}

/** The room query's part of the read units: what is left after the sender's strongly consistent GetItem (1). */
function queryRru(row: CostRow): number {
  return Math.max(0, row.rru - (row.server.startsWith('roomcast') ? 1 : 0));
}

function priced(
  server: string,
  n: number,
  basis: CostRow['basis'],
  per: PerBroadcast,
  durationMs: number,
  result?: FanOutResult,
): CostRow {
  const apiGatewayUsd = ((per.inbound + per.outbound) * PRICES.apiGatewayMessagePerMillion) / 1e6;
  const dynamoUsd = (per.rru * PRICES.dynamoRruPerMillion + per.wru * PRICES.dynamoWruPerMillion) / 1e6;
  const lambdaRequestUsd = PRICES.lambdaRequestPerMillion / 1e6;
  const lambdaDurationUsd = (durationMs / 1000) * PRICES.lambdaMemoryGb * PRICES.lambdaGbSecond;
  const connectSdk = result?.connectSdk;
  return {
    server,
    n,
    basis,
    inboundMessages: per.inbound,
    outboundMessages: round(per.outbound),
    rru: round(per.rru),
    wru: round(per.wru),
    apiGatewayUsd,
    dynamoUsd,
    lambdaRequestUsd,
    lambdaDurationUsd,
    totalPerMillionBroadcastsUsd: round(
      (apiGatewayUsd + dynamoUsd + lambdaRequestUsd + lambdaDurationUsd) * 1e6,
    ),
    ...(connectSdk &&
      result &&
      result.connected > 0 && {
        connect: {
          rru: round(connectSdk.rru / result.connected),
          wru: round(connectSdk.wru / result.connected),
          posts: round(connectSdk.posts / result.connected),
          gonePosts: round((connectSdk.postErrors.GoneException ?? 0) / result.connected),
          failedConditionalWrites: round(connectSdk.conditionalFailures / result.connected),
        },
      }),
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
