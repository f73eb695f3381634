import { connectionsTable } from '../../src/store/tables.ts';

/**
 * What each Lambda function's code calls in DynamoDB: action, table and index. test/infra holds every function's
 * IAM policy to exactly this (nothing missing, nothing more); test/build runs each built bundle against a
 * recording proxy, with the environment Terraform gives it, and holds what it really calls to this. So a change
 * that makes a function call something new fails until both this list and the policy say so.
 */
export type Table = 'connections' | 'messages';

export interface DynamoDbNeed {
  action: 'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Query';
  table: Table;
  /** An index of the table (its name), for a Query through it. */
  index?: string;
}

const ROOM_INDEX = connectionsTable.indexes.byRoom.name;
const USER_INDEX = connectionsTable.indexes.byUser.name;

const need = (action: DynamoDbNeed['action'], table: Table, index?: string): DynamoDbNeed => ({
  action,
  table,
  ...(index && { index }),
});

/** Presence: a room query (and posts; presence prunes nothing). */
const announce = [need('Query', 'connections', ROOM_INDEX)];
/** A send: the caller's record, then the message stored at its seqs (src/store/messages.ts). */
const store = [
  need('GetItem', 'connections'),
  need('UpdateItem', 'messages'),
  need('PutItem', 'messages'),
  need('GetItem', 'messages'),
];

export const DYNAMODB_NEEDS: Record<string, DynamoDbNeed[]> = {
  connect: [
    need('Query', 'connections', USER_INDEX),
    need('PutItem', 'connections'),
    need('GetItem', 'messages'),
    ...announce,
  ],
  disconnect: [need('DeleteItem', 'connections'), ...announce],
  default: [],
  'send-message': [...store, need('Query', 'connections', ROOM_INDEX), need('DeleteItem', 'connections')],
  'send-direct': [...store, need('Query', 'connections', USER_INDEX), need('DeleteItem', 'connections')],
  'get-history': [
    need('GetItem', 'connections'),
    need('Query', 'messages'),
    need('GetItem', 'messages'),
    need('PutItem', 'messages'),
  ],
  'list-members': [
    need('GetItem', 'connections'),
    need('Query', 'connections', ROOM_INDEX),
    need('GetItem', 'messages'),
  ],
  ping: [need('GetItem', 'connections'), need('GetItem', 'messages')],
};

export function needText(need: DynamoDbNeed): string {
  return `dynamodb:${need.action} on ${need.table}${need.index ? `/index/${need.index}` : ''}`;
}
