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
  /** send-message (and every route function): Terraform's lambda_memory_mb default. */
  lambdaMemoryGb: 0.25,
  /** fan-out-worker: Terraform's fanout_worker_memory_mb default. */
  workerMemoryGb: 0.5,
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

// -----------------------------------------------------------------------------------------------------------------
// Modelled: per 1,000 messages to a room of N, from the model's durations (bench/model.ts)
// -----------------------------------------------------------------------------------------------------------------

/** DynamoDB's billing units. */
const RRU_BYTES = 4096;

/**
 * What storing one room message and reading its room costs, as src/store/messages.ts and src/store/connections.ts
 * do it with a ~100-character message (every item under 1 KB): the sender's record (strongly consistent GetItem),
 * the client_msg_id marker looked up (strongly consistent GetItem) and put, the room's seq counter updated, the
 * message put; then the room query, strongly consistent, billed by the size of the items it reads (the whole item,
 * whatever the projection) in 4 KB units per page. The SDK always sends a client_msg_id; without one (the bench's
 * driver) a message costs 1 RRU and 2 WRU less the marker's.
 */
export const STORE_UNITS = {
  rru: 2,
  wru: 3,
  subscriptionItemBytes: 100,
  pageBytes: 1024 * 1024,
} as const;

export interface DeliveryCostInput {
  n: number;
  path: 'direct' | 'workers';
  /** How the row was modelled (e.g. the tier's workers at once). */
  label: string;
  /** Posts made (billed): N unless the sender was cut off before it posted to everyone. */
  posts?: number;
  /** The send-message invocation, ms. */
  senderMs: number;
  /** Worker invocations (hand-ons included) and their durations together, ms; 0 on the direct path. */
  workerInvocations: number;
  workerMsTotal: number;
}

export interface DeliveryCostRow extends DeliveryCostInput {
  /** Per message. */
  apiGatewayMessages: number;
  lambdaRequests: number;
  lambdaGbSeconds: number;
  rru: number;
  wru: number;
  /** Per 1,000 messages, USD. */
  apiGatewayUsd: number;
  lambdaUsd: number;
  dynamoUsd: number;
  totalUsd: number;
}

/** The room query's read units for a room of `n`: each 1 MB page rounded up to 4 KB. */
function roomQueryRru(n: number, itemBytes = STORE_UNITS.subscriptionItemBytes): number {
  const perPage = Math.floor(STORE_UNITS.pageBytes / itemBytes);
  let units = 0;
  for (let left = n; left > 0; left -= perPage) {
    units += Math.ceil((Math.min(left, perPage) * itemBytes) / RRU_BYTES);
  }
  return Math.max(1, units);
}

/** Cost of 1,000 messages to a room of N: API Gateway (the inbound frame and a post per member), Lambda, DynamoDB. */
export function deliveryCost(input: DeliveryCostInput): DeliveryCostRow {
  const apiGatewayMessages = 1 + (input.posts ?? input.n);
  const lambdaRequests = 1 + input.workerInvocations;
  const lambdaGbSeconds =
    (input.senderMs / 1000) * PRICES.lambdaMemoryGb + (input.workerMsTotal / 1000) * PRICES.workerMemoryGb;
  const rru = STORE_UNITS.rru + roomQueryRru(input.n);
  const wru = STORE_UNITS.wru;
  const thousand = (perMessage: number, perMillion: number) => (perMessage * perMillion) / 1000;
  const apiGatewayUsd = thousand(apiGatewayMessages, PRICES.apiGatewayMessagePerMillion);
  const lambdaUsd =
    thousand(lambdaRequests, PRICES.lambdaRequestPerMillion) + lambdaGbSeconds * PRICES.lambdaGbSecond * 1000;
  const dynamoUsd = thousand(rru, PRICES.dynamoRruPerMillion) + thousand(wru, PRICES.dynamoWruPerMillion);
  return {
    ...input,
    apiGatewayMessages,
    lambdaRequests,
    lambdaGbSeconds,
    rru,
    wru,
    apiGatewayUsd,
    lambdaUsd,
    dynamoUsd,
    totalUsd: apiGatewayUsd + lambdaUsd + dynamoUsd,
  };
}
