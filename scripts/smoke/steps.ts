import { type MessageFrame, RoomcastError } from '@roomcast/client';
import type { SmokeOptions } from './options.ts';
import { ClientClosed, Participant } from './participant.ts';

export type Status = 'PASS' | 'FAIL' | 'SKIP';

export interface StepResult {
  step: number;
  name: string;
  status: Status;
  /** Absent for skipped steps. */
  ms?: number;
  detail: string;
}

/** A step that did not do what it should; the message is the FAIL line's detail. */
class StepFailure extends Error {}

/** What the steps hand on to the steps after them. */
interface Session {
  alice?: Participant;
  bob?: Participant;
  aliceMessage?: MessageFrame;
  bobMessage?: MessageFrame;
}

/** Which step provides what, for the SKIP lines. */
const PROVIDED_BY: Record<keyof Session, { step: number; what: string }> = {
  alice: { step: 1, what: "alice's connection" },
  bob: { step: 2, what: "bob's connection" },
  aliceMessage: { step: 3, what: "alice's message" },
  bobMessage: { step: 4, what: "bob's reply" },
};

interface StepDefinition {
  name: string;
  /** What must exist for the step to run; without it the step is skipped. */
  needs: Array<keyof Session>;
  /** Resolves with the PASS line's detail. */
  run(session: Required<Session>, step: StepDeadline): Promise<string>;
}

/** One step's deadline, shared by everything the step waits for. */
class StepDeadline {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout>;

  constructor(readonly timeoutMs: number) {
    this.#timer = setTimeout(() => this.#controller.abort(new StepFailure('deadline')), timeoutMs);
  }

  /** Aborted at the deadline, and when the step is over: waiters still registered then let go. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** `promise`'s value, or a failure saying there was no `what` (and the `hint`) when the deadline passes first. */
  wait<T>(what: string, promise: Promise<T>, hint?: string): Promise<T> {
    const signal = this.signal;
    const timedOut = () =>
      new StepFailure(`no ${what} within ${this.timeoutMs} ms${hint === undefined ? '' : `: ${hint}`}`);
    if (signal.aborted) return Promise.reject(timedOut());
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(timedOut());
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  finish(): void {
    clearTimeout(this.#timer);
    this.#controller.abort(new StepFailure('the step is over'));
  }
}

function defineSteps(options: SmokeOptions, participants: Participant[]): StepDefinition[] {
  const presenceHint = `PRESENCE_ENABLED may be false on this deployment${
    options.freshRoom ? '' : `, or room ${options.room} has more than PRESENCE_MAX_ROOM_SIZE connections`
  } (--no-presence skips presence)`;
  const text = (what: string) => `smoke test ${options.room}: ${what}`;

  /** A connected participant, or a failure saying why not ("handshake refused 401: …"). */
  const join = async (role: 'alice' | 'bob', step: StepDeadline): Promise<Participant> => {
    const participant = new Participant(role, options[role], options);
    participants.push(participant);
    try {
      await step.wait(
        `answer to ${role}'s handshake`,
        participant.waitFor('state', (change) => change.state === 'open', { signal: step.signal }),
      );
      // In the room once its subscribe is answered: a message stored before that is before the start.
      await step.wait(`answer to ${role}'s subscribe`, participant.client.room(options.room).ready);
    } catch (error) {
      throw error instanceof ClientClosed ? new StepFailure(error.why) : error;
    }
    return participant;
  };

  const presence = (
    watcher: Participant,
    subject: Participant,
    event: 'join' | 'leave',
    since: number,
    step: StepDeadline,
  ) =>
    step.wait(
      `presence ${event} of ${subject.userId} at ${watcher.role}`,
      watcher.waitFor('presence', (p) => p.user_id === subject.userId && p.event === event, {
        since,
        signal: step.signal,
      }),
      presenceHint,
    );

  return [
    {
      name: 'alice connects',
      needs: [],
      run: async (session, step) => {
        session.alice = await join('alice', step);
        return `as ${session.alice.userId} to room ${options.room}`;
      },
    },
    {
      name: options.presence ? 'bob connects, alice sees him join' : 'bob connects',
      needs: ['alice'],
      run: async (session, step) => {
        const since = session.alice.mark();
        const bob = await join('bob', step);
        // Connected is connected: the steps after this one can run even when presence fails.
        session.bob = bob;
        if (options.presence) await presence(session.alice, bob, 'join', since, step);
        return `as ${bob.userId}`;
      },
    },
    {
      name: 'alice sends, bob receives',
      needs: ['alice', 'bob'],
      run: async (session, step) => {
        const { alice, bob } = session;
        const since = bob.mark();
        const message = text('hello from alice');
        const stored = await step.wait("answer to alice's send", alice.client.send(message));
        session.aliceMessage = stored;
        expect(stored.message === message && stored.user_id === alice.userId, 'stored message', stored);
        expect(
          stored.room_id === options.room,
          `room_id in the stored message (not ${options.room})`,
          stored,
        );
        const received = await step.wait(
          `message ${stored.message_id} at bob`,
          bob.waitFor('message', (m) => m.message_id === stored.message_id, { since, signal: step.signal }),
        );
        expect(received.message === message, "text in bob's copy", received);
        return `message_id ${stored.message_id}`;
      },
    },
    {
      name: 'bob replies, alice receives',
      needs: ['alice', 'bob'],
      run: async (session, step) => {
        const { alice, bob } = session;
        const since = alice.mark();
        const message = text('hello from bob');
        const stored = await step.wait("answer to bob's send", bob.client.send(message));
        session.bobMessage = stored;
        expect(stored.message === message && stored.user_id === bob.userId, 'stored message', stored);
        await step.wait(
          `message ${stored.message_id} at alice`,
          alice.waitFor('message', (m) => m.message_id === stored.message_id, { since, signal: step.signal }),
        );
        return `message_id ${stored.message_id}`;
      },
    },
    {
      name: 'bob reads both in history, in order',
      needs: ['bob', 'aliceMessage', 'bobMessage'],
      run: async (session, step) => {
        const sent = [session.aliceMessage.message_id, session.bobMessage.message_id];
        // Forward from just before alice's message (`afterSeq` pages oldest first): without a cursor history
        // pages newest first, and in a busy room the two need not be on the newest page.
        const from = session.aliceMessage.seq - 1;
        const read: string[] = [];
        for (let page = 1, afterSeq = from; ; page += 1) {
          const frame = await step.wait(
            `answer to bob's history read (page ${page})`,
            session.bob.client.history({ afterSeq, limit: 100 }),
          );
          read.push(...frame.messages.map((m) => m.message_id));
          if (!frame.has_more || read.includes(session.bobMessage.message_id)) break;
          afterSeq = frame.through_seq ?? afterSeq;
        }
        const missing = sent.filter((id) => !read.includes(id));
        if (missing.length > 0)
          throw new StepFailure(
            `history after seq ${from} lacks ${missing.join(', ')}; it has ${read.join(', ') || 'nothing'}`,
          );
        if (read.indexOf(session.aliceMessage.message_id) > read.indexOf(session.bobMessage.message_id))
          throw new StepFailure(`history has bob's reply before alice's message: ${read.join(', ')}`);
        return `${read.length} message${read.length === 1 ? '' : 's'} from alice's on, in send order`;
      },
    },
    {
      name: 'alice sends bob a direct message',
      needs: ['alice', 'bob'],
      run: async (session, step) => {
        const { alice, bob } = session;
        const since = bob.mark();
        const message = text('a direct message from alice');
        const stored = await step.wait(
          "answer to alice's direct message",
          alice.client.sendDirect(bob.userId, message),
        );
        expect(
          stored.from_user_id === alice.userId && stored.to_user_id === bob.userId,
          'stored direct message',
          stored,
        );
        await step.wait(
          `direct message ${stored.message_id} at bob`,
          bob.waitFor('direct', (d) => d.message_id === stored.message_id, { since, signal: step.signal }),
        );
        return `message_id ${stored.message_id}`;
      },
    },
    {
      name: 'members lists both users',
      needs: ['alice', 'bob'],
      run: async (session, step) => {
        const { alice, bob } = session;
        const frame = await step.wait("answer to alice's members request", alice.client.members());
        const listed = frame.users.map((user) => user.user_id);
        const missing = [alice.userId, bob.userId].filter((user) => !listed.includes(user));
        if (missing.length > 0)
          throw new StepFailure(
            `members lacks ${missing.join(', ')}${frame.truncated ? ' (the list was truncated)' : ''}; it has ${listed.join(', ') || 'nobody'}`,
          );
        return `${listed.length} user${listed.length === 1 ? '' : 's'}`;
      },
    },
    {
      name: options.presence ? 'bob leaves, alice sees him leave' : 'bob leaves',
      needs: ['alice', 'bob'],
      run: async (session, step) => {
        const { alice, bob } = session;
        const since = alice.mark();
        bob.client.close();
        if (options.presence) await presence(alice, bob, 'leave', since, step);
        return '';
      },
    },
  ];
}

function expect(condition: boolean, what: string, frame: object): void {
  if (!condition) throw new StepFailure(`unexpected ${what}: ${JSON.stringify(frame)}`);
}

/**
 * Runs the steps in order, each within its deadline, skipping those whose prerequisites an earlier step failed to
 * provide; `report` hears of each result as it comes. Every socket is closed before this resolves.
 */
export async function runSteps(
  options: SmokeOptions,
  report: (result: StepResult) => void,
): Promise<StepResult[]> {
  const participants: Participant[] = [];
  const session: Session = {};
  const results: StepResult[] = [];
  try {
    for (const [index, definition] of defineSteps(options, participants).entries()) {
      const step = index + 1;
      const missing = definition.needs.filter((key) => session[key] === undefined);
      let result: StepResult;
      if (missing.length > 0) {
        // The earliest step that failed to provide is the one to look at.
        const first = missing.map((key) => PROVIDED_BY[key]).sort((a, b) => a.step - b.step)[0];
        const detail = first ? `needs ${first.what} (step ${first.step})` : '';
        result = { step, name: definition.name, status: 'SKIP', detail };
      } else {
        const started = performance.now();
        const deadline = new StepDeadline(options.timeoutMs);
        let status: Status = 'PASS';
        let detail: string;
        try {
          // `needs` was checked just above: what a step reads of the session is there.
          detail = await definition.run(session as Required<Session>, deadline);
        } catch (error) {
          status = 'FAIL';
          detail = describeError(error) + sideNotes(participants);
        } finally {
          deadline.finish();
        }
        const ms = Math.round(performance.now() - started);
        result = { step, name: definition.name, status, ms, detail };
      }
      results.push(result);
      report(result);
    }
  } finally {
    await Promise.all(participants.map((participant) => participant.close(2000)));
  }
  return results;
}

function describeError(error: unknown): string {
  if (error instanceof StepFailure || error instanceof ClientClosed) return error.message;
  if (error instanceof RoomcastError) return `refused with ${error.code}: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** What else went wrong on the connections, which may explain a failure. */
function sideNotes(participants: Participant[]): string {
  const notes = participants.flatMap((participant) => [
    ...participant.drops().map((reason) => `${participant.role}'s connection dropped (${reason})`),
    ...participant.strayErrors().map((error) => `${participant.role} got an error frame (${error})`),
  ]);
  return notes.length > 0 ? `; ${notes.join('; ')}` : '';
}
