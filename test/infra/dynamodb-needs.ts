import { connectionsTable } from '../../src/store/tables.ts';

/**
 * What each Lambda function's code calls in DynamoDB: action, table and index. test/infra holds every function's
 * IAM policy to exactly this (nothing missing, nothing more); test/build runs each built bundle against a
 * recording proxy, with the environment Terraform gives it, and holds what it really calls to this. So a change
 * that makes a function call something new fails until both this list and the policy say so.
 */
export type Table = 'connections' | 'subscriptions' | 'messages' | 'revocations';

export interface DynamoDbNeed {
  action:
    | 'GetItem'
    | 'PutItem'
    | 'UpdateItem'
    | 'DeleteItem'
    | 'Query'
    | 'Scan'
    | 'BatchGetItem'
    | 'BatchWriteItem';
  table: Table;
  /** An index of the table (its name), for a Query through it. */
  index?: string;
}

const USER_INDEX = connectionsTable.indexes.byUser.name;

const need = (action: DynamoDbNeed['action'], table: Table, index?: string): DynamoDbNeed => ({
  action,
  table,
  ...(index && { index }),
});

/**
 * The caller's record (ConnectionStore.get), which moves a record of the version before subscriptions over on
 * its first read: its room is added to the record's set and written as a subscription.
 */
const caller = [
  need('GetItem', 'connections'),
  need('UpdateItem', 'connections'),
  need('PutItem', 'subscriptions'),
];
/** A room's members (a broadcast, presence, listMembers): one strongly consistent Query of the room. */
const roomQuery = need('Query', 'subscriptions');
/**
 * A gone connection pruned (ConnectionStore.removeGone): its record, then the subscriptions it held, in batches.
 * A room fan-out also deletes the item of the room it posted to when the record is already gone.
 */
const prune = [need('DeleteItem', 'connections'), need('BatchWriteItem', 'subscriptions')];
/** A message stored at its seqs (src/store/messages.ts): the counter, the marker, the copy, reads back. */
const store = [need('UpdateItem', 'messages'), need('PutItem', 'messages'), need('GetItem', 'messages')];
/** A page of history: the stream, its counter, and voids for the seqs a dead writer left. */
const history = [need('Query', 'messages'), need('GetItem', 'messages'), need('PutItem', 'messages')];

export const DYNAMODB_NEEDS: Record<string, DynamoDbNeed[]> = {
  // The per-user cap, the newest seqs (BatchGetItem of counters), the token's revocations (BatchGetItem of the
  // user's and the token's), the record (PutItem without a room in the URL; with one, the record and the room's
  // subscription in one BatchWriteItem), presence.
  connect: [
    need('Query', 'connections', USER_INDEX),
    need('BatchGetItem', 'messages'),
    need('BatchGetItem', 'revocations'),
    need('PutItem', 'connections'),
    need('BatchWriteItem', 'connections'),
    need('BatchWriteItem', 'subscriptions'),
    roomQuery,
  ],
  // The record (which lists the rooms it held), its subscriptions, presence in each room.
  disconnect: [need('DeleteItem', 'connections'), need('BatchWriteItem', 'subscriptions'), roomQuery],
  default: [],
  // The caller, ADD to its set (GetItem again when the condition fails: full or gone), the subscription, the
  // room's newest seq (consistent), a page of history when asked, presence.
  // An unsubscribe that crossed it: the item it wrote is deleted again (ConnectionStore.subscribe).
  subscribe: [...caller, roomQuery, need('DeleteItem', 'subscriptions'), ...history],
  // The caller, the subscription, DELETE from its set, presence.
  unsubscribe: [...caller, need('DeleteItem', 'subscriptions'), roomQuery],
  'send-message': [...caller, ...store, roomQuery, ...prune, need('DeleteItem', 'subscriptions')],
  // Recipients and the sender's other connections through user_id-index; stale ones are pruned (their records
  // hold their rooms), but no room item is deleted: no room was posted to.
  'send-direct': [...caller, ...store, need('Query', 'connections', USER_INDEX), ...prune],
  'get-history': [...caller, ...history],
  'list-members': [...caller, roomQuery, need('GetItem', 'messages')],
  // The newest seq of every room held and of the inbox: BatchGetItem of their counters.
  ping: [...caller, need('BatchGetItem', 'messages')],
  // A shard of a big room (src/fan-out.ts): it reads no table (the sender read the room and passed the ids), and
  // prunes the connections that answer 410 Gone as send-message does, the room's item included.
  'fan-out-worker': [...prune, need('DeleteItem', 'subscriptions')],
  // The operators' function (src/admin.ts): publish stores and delivers as send-message does (a room's
  // subscriptions, or a user's connections through user_id-index), pruning the gone; revoke writes the revocation
  // and reads the user's connections (their records say which token opened them) to close them; stats counts
  // connections with a Scan of user_id-index and rooms with a Scan of the subscriptions table.
  admin: [
    ...store,
    roomQuery,
    ...prune,
    need('DeleteItem', 'subscriptions'),
    need('Query', 'connections', USER_INDEX),
    need('GetItem', 'connections'),
    need('PutItem', 'revocations'),
    need('GetItem', 'revocations'),
    need('Scan', 'connections', USER_INDEX),
    need('Scan', 'subscriptions'),
  ],
};

export function needText(need: DynamoDbNeed): string {
  return `dynamodb:${need.action} on ${need.table}${need.index ? `/index/${need.index}` : ''}`;
}
