import type { DirectFrame, MessageFrame } from '@roomcast/client';

/** Messages of one sender within this long of each other form one group (one name and time above them). */
const GROUP_WINDOW_MS = 5 * 60_000;

/**
 * One conversation: a room, the direct messages exchanged with one user, or the system direct messages published
 * under one sender name (announcements: read only). Its messages are an `<ol>` kept in seq order (the room's seq,
 * or this user's inbox seq for direct messages), whatever order they are added in: live ones come last, older
 * pages are put in front.
 */
export class Conversation {
  /** `#` and the room's id, `@` and the other user's id, or `!` and the name system messages come from. */
  readonly key: string;
  /** The other user, for a direct-message conversation. */
  readonly peer: string | undefined;
  /**
   * The sender name of system direct messages, for their conversation. Not a user: a real user of that name has
   * a conversation of their own (`@`), and nothing written here could reach the system.
   */
  readonly announcer: string | undefined;
  /** The room, for a room's conversation. */
  readonly room: string | undefined;
  /** What the page calls it: `#room`, the other user's id, or the system sender's name. */
  readonly name: string;
  readonly list: HTMLOListElement;
  /** Messages from others that arrived while another conversation was shown. */
  unread = 0;
  /** Where the list was scrolled when the user left it; undefined: at the bottom. */
  savedScroll: number | undefined;
  /** The text typed and not sent, while another conversation is shown. */
  draft = '';
  /** A send that failed without an answer (TIMEOUT): sending the same text again reuses its id, so it is stored once. */
  retry: { text: string; clientMsgId: string } | undefined;
  readonly #ids = new Set<string>();

  constructor(who: { peer: string } | { room: string } | { announcer: string }, emptyText: string) {
    this.peer = 'peer' in who ? who.peer : undefined;
    this.announcer = 'announcer' in who ? who.announcer : undefined;
    this.room = 'room' in who ? who.room : undefined;
    this.key = 'peer' in who ? `@${who.peer}` : 'announcer' in who ? `!${who.announcer}` : `#${who.room}`;
    this.name = 'peer' in who ? who.peer : 'announcer' in who ? who.announcer : `#${who.room}`;
    this.list = document.createElement('ol');
    this.list.className = 'messages';
    this.list.dataset.conversation = this.key;
    if (this.room !== undefined) this.list.dataset.room = this.room;
    this.list.dataset.empty = emptyText;
    this.list.setAttribute(
      'aria-label',
      this.peer !== undefined
        ? `Direct messages with ${this.peer}`
        : this.announcer !== undefined
          ? `Announcements from ${this.announcer}`
          : `Messages in ${this.name}`,
    );
    this.list.setAttribute('aria-live', 'polite');
    this.list.setAttribute('aria-relevant', 'additions');
    this.list.hidden = true;
  }

  /** Messages of this user's inbox (with a user, or from the system), as opposed to a room's. */
  get direct(): boolean {
    return this.room === undefined;
  }

  /** Nothing can be sent here: announcements cannot be answered. */
  get readOnly(): boolean {
    return this.announcer !== undefined;
  }

  /** What it is called to a screen reader, in the list of conversations. */
  get label(): string {
    return this.announcer !== undefined ? `${this.name}, system announcements` : this.name;
  }

  /** The lowest seq listed. */
  get oldestSeq(): number | undefined {
    const first = this.list.querySelector<HTMLLIElement>('li[data-seq]');
    return first ? Number(first.dataset.seq) : undefined;
  }

  has(messageId: string): boolean {
    return this.#ids.has(messageId);
  }

  /**
   * Lists a stored message at its place in seq order. Returns its element, and whether it went last (a new
   * message, as opposed to an older one put in front); undefined when it is listed already.
   */
  add(frame: MessageFrame | DirectFrame, me: string): { item: HTMLLIElement; last: boolean } | undefined {
    if (this.#ids.has(frame.message_id)) return undefined;
    this.#ids.add(frame.message_id);
    const from = frame.action === 'message' ? frame.user_id : frame.from_user_id;
    const item = document.createElement('li');
    item.dataset.id = frame.message_id;
    item.dataset.seq = String(frame.seq);
    item.dataset.from = from;
    item.dataset.time = frame.timestamp;
    if (frame.system) {
      // The backend's: its sender is a name, never this user (even when it is this user's id).
      item.className = 'message system';
      item.append(head(from, frame.timestamp, undefined, 'Announcement'), body(frame.message));
    } else {
      item.className = from === me ? 'message mine' : 'message';
      item.append(head(from === me ? 'You' : from, frame.timestamp), body(frame.message));
      if (frame.client_msg_id) this.removePending(frame.client_msg_id);
    }

    const last = this.#insert(item, frame.seq);
    regroup(item);
    const next = item.nextElementSibling;
    if (next instanceof HTMLLIElement) regroup(next);
    return { item, last };
  }

  /** A line that is not a message (someone joined or left), after everything listed. */
  addNotice(text: string): void {
    const item = document.createElement('li');
    item.className = 'notice';
    item.textContent = text;
    this.list.append(item);
  }

  /** A message on its way: shown last until the stored one arrives (or the send fails). */
  addPending(text: string, clientMsgId: string): HTMLLIElement {
    const item = document.createElement('li');
    item.className = 'message mine pending';
    item.dataset.pending = clientMsgId;
    item.append(head('You', undefined, 'sending…'), body(text));
    this.list.append(item);
    regroup(item);
    return item;
  }

  removePending(clientMsgId: string): void {
    for (const item of this.list.querySelectorAll<HTMLLIElement>('li[data-pending]')) {
      if (item.dataset.pending !== clientMsgId) continue;
      const next = item.nextElementSibling;
      item.remove();
      if (next instanceof HTMLLIElement) regroup(next);
    }
  }

  /** Marks messages at or below `seq`, sent before `before` (epoch ms), as read: they were there already. */
  forgetUnreadUpTo(seq: number, before: number): void {
    for (const item of this.list.querySelectorAll<HTMLLIElement>('li[data-unread]')) {
      if (Number(item.dataset.seq) > seq || timeOf(item) >= before) continue;
      delete item.dataset.unread;
      this.unread = Math.max(0, this.unread - 1);
    }
  }

  markRead(): void {
    this.unread = 0;
    for (const item of this.list.querySelectorAll<HTMLLIElement>('li[data-unread]'))
      delete item.dataset.unread;
  }

  /**
   * Puts `item` at its place in seq order: after the last message with a lower seq. The newest goes after the
   * notices too, but before the messages still being sent. True when it is the newest.
   */
  #insert(item: HTMLLIElement, seq: number): boolean {
    const items = this.list.querySelectorAll<HTMLLIElement>('li[data-seq]');
    for (let i = items.length - 1; i >= 0; i--) {
      const below = items[i] as HTMLLIElement;
      if (Number(below.dataset.seq) > seq) continue;
      if (i < items.length - 1) {
        below.after(item);
        return false;
      }
      break;
    }
    if (items.length > 0 && Number(items[0]?.dataset.seq) > seq) {
      this.list.prepend(item);
      return false;
    }
    const pending = this.list.querySelector('li[data-pending]');
    if (pending) pending.before(item);
    else this.list.append(item);
    return true;
  }
}

/**
 * A message continues the group above it when the line before it is a message of the same sender, sent within a
 * few minutes: it then shows no name and time of its own. An announcement stands alone: it continues nothing, and
 * nothing continues it (its sender's name may be a user's too).
 */
function regroup(item: HTMLLIElement): void {
  if (!item.classList.contains('message')) return;
  const previous = item.previousElementSibling;
  const continues =
    previous instanceof HTMLLIElement &&
    previous.classList.contains('message') &&
    !previous.classList.contains('system') &&
    !item.classList.contains('system') &&
    previous.classList.contains('mine') === item.classList.contains('mine') &&
    previous.dataset.from === item.dataset.from &&
    Math.abs(timeOf(item) - timeOf(previous)) < GROUP_WINDOW_MS;
  item.classList.toggle('continued', continues);
}

function timeOf(item: HTMLLIElement): number {
  // A pending message is being sent now.
  return item.dataset.time ? Date.parse(item.dataset.time) : Date.now();
}

/** The line above a message: who, a `tag` (what kind of message, in words a screen reader reads too), when. */
function head(who: string, timestamp: string | undefined, note?: string, tag?: string): HTMLElement {
  const line = document.createElement('div');
  line.className = 'head';
  const from = Object.assign(document.createElement('span'), { className: 'from', textContent: who });
  line.append(from);
  if (tag)
    line.append(' ', Object.assign(document.createElement('span'), { className: 'tag', textContent: tag }));
  if (timestamp) {
    const time = document.createElement('time');
    time.dateTime = timestamp;
    time.textContent = new Date(timestamp).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    time.title = new Date(timestamp).toLocaleString();
    line.append(' ', time);
  }
  if (note)
    line.append(' ', Object.assign(document.createElement('span'), { className: 'note', textContent: note }));
  return line;
}

function body(text: string): HTMLParagraphElement {
  // Text, never HTML: a message is whatever its sender typed.
  return Object.assign(document.createElement('p'), { className: 'text', textContent: text });
}
