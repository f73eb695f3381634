import {
  type ConnectOptions,
  connect,
  type DirectFrame,
  type MembersFrame,
  type MessageFrame,
  type PresenceFrame,
  type RoomcastClient,
  type RoomcastError,
  type StateChange,
} from '@roomcast/client';
import { Conversation } from './conversation.ts';
import {
  loadSettings,
  parseServer,
  rememberJoined,
  type Settings,
  saveSettings,
  wasJoined,
} from './settings.ts';
import {
  caughtUpText,
  charCount,
  closedText,
  formatCount,
  MAX_MESSAGE_CHARS,
  sendErrorText,
  serverErrorText,
  statusText,
  tokenSubject,
} from './words.ts';

/**
 * The demo chat page: the client SDK and the DOM, no framework. One room and the direct messages of the user the
 * token names, each in its own conversation; the connection's state in plain words.
 */
const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  status: byId<HTMLParagraphElement>('status'),
  reconnect: byId<HTMLButtonElement>('reconnect'),
  me: byId<HTMLSpanElement>('me'),
  meName: byId<HTMLElement>('me-name'),
  membersToggle: byId<HTMLButtonElement>('members-toggle'),
  memberCount: byId<HTMLSpanElement>('member-count'),
  leave: byId<HTMLButtonElement>('leave'),
  error: byId<HTMLParagraphElement>('error'),
  dismissError: byId<HTMLButtonElement>('dismiss-error'),
  notice: byId<HTMLParagraphElement>('notice'),
  join: byId<HTMLFormElement>('join'),
  joinButton: byId<HTMLButtonElement>('join-button'),
  joinError: byId<HTMLParagraphElement>('join-error'),
  tokenIdentity: byId<HTMLParagraphElement>('token-identity'),
  settings: byId<HTMLDetailsElement>('settings'),
  chat: byId<HTMLElement>('chat'),
  conversations: byId<HTMLUListElement>('conversations'),
  membersPanel: byId<HTMLElement>('members-panel'),
  closeMembers: byId<HTMLButtonElement>('close-members'),
  members: byId<HTMLUListElement>('members'),
  conversationTitle: byId<HTMLHeadingElement>('conversation-title'),
  conversationHint: byId<HTMLSpanElement>('conversation-hint'),
  timeline: byId<HTMLDivElement>('timeline'),
  loadOlder: byId<HTMLButtonElement>('load-older'),
  newMessages: byId<HTMLButtonElement>('new-messages'),
  compose: byId<HTMLFormElement>('compose'),
  text: byId<HTMLTextAreaElement>('text'),
  sendError: byId<HTMLParagraphElement>('send-error'),
  counter: byId<HTMLSpanElement>('counter'),
};
const field = (name: string) => ui.join.elements.namedItem(name) as HTMLInputElement;
const fields = { user: field('user'), room: field('room'), server: field('server'), token: field('token') };
const NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Newest messages shown on joining (room and direct, each); older ones through "Load older messages". */
const INITIAL_MESSAGES = 50;
const OLDER_PAGE = 50;
/** How far from the bottom still counts as "at the bottom" (a line's height, give or take). */
const BOTTOM_SLACK_PX = 48;
const NOTICE_MS = 15_000;
const stagePath =
  document.querySelector<HTMLMetaElement>('meta[name="roomcast-stage-path"]')?.content || '/dev';
const localServer = `${location.origin.replace(/^http/, 'ws')}${stagePath}`;

/** One connection to one room, as long as the user stays in it; Reconnect after the SDK gave up starts another. */
interface Session {
  client: RoomcastClient;
  /** What `connect` got, but for catch-up: a restart passes these again. */
  base: ConnectOptions;
  room: string;
  change: StateChange | undefined;
  everOpened: boolean;
  /** The connection was lost since it was last open: the next open is "back online". */
  lost: boolean;
  /** Started by Reconnect to resume where another left off: it counts its first catch-up itself. */
  resumed: boolean;
  /** Messages the resumed client's first catch-up handed over. */
  caughtUp: number;
  sawReconnected: boolean;
}

let session: Session | undefined;
/** Who the server knows this page as: the token's `sub`. */
let me = '';
const conversations = new Map<string, Conversation>();
let active: Conversation | undefined;
const members = new Map<string, number>();
let membersTruncated = false;
/** Paging back through the room and through this user's inbox: the next `beforeSeq`, and whether it is done. */
let roomOlder: { cursor: number | undefined; done: boolean } = { cursor: undefined, done: false };
let directOlder: { cursor: number | undefined; done: boolean } = { cursor: undefined, done: false };
/** The lowest inbox seq listed, in any conversation. */
let directMin: number | undefined;
/**
 * The newest inbox seq when this page joined, and when it joined: the direct messages the catch-up hands over
 * were there before, and are not unread; those at or after `joinedAt` are (the read of the baseline may come a
 * moment late).
 */
let directBaseline: number | undefined;
let joinedAt = 0;
let noticeTimer: ReturnType<typeof setTimeout> | undefined;
let errorTimer: ReturnType<typeof setTimeout> | undefined;

// ---------------------------------------------------------------------------------------------------------------
// Joining and leaving
// ---------------------------------------------------------------------------------------------------------------

const initial = loadSettings();
fields.user.value = initial.user;
fields.room.value = initial.room;
fields.server.value = initial.server;
fields.token.value = initial.token;
ui.settings.open = initial.fromQuery || initial.server !== '' || initial.token !== '';
showTokenIdentity();
fields.token.addEventListener('input', showTokenIdentity);
if (wasJoined()) void join();

ui.join.addEventListener('submit', (event) => {
  event.preventDefault();
  void join();
});

ui.leave.addEventListener('click', () => {
  leave();
  fields.room.focus();
});

async function join(): Promise<void> {
  const settings: Settings = {
    user: fields.user.value.trim(),
    room: fields.room.value.trim(),
    server: fields.server.value.trim(),
    token: fields.token.value.trim(),
  };
  showJoinError('');
  let url = localServer;
  if (settings.server) {
    const parsed = parseServer(settings.server);
    if ('error' in parsed) return showJoinError(parsed.error, fields.server);
    url = parsed.url;
  }
  const subject = settings.token ? tokenSubject(settings.token) : undefined;
  if (settings.token && !subject) {
    return showJoinError('That token is not one this page can use: paste the whole token.', fields.token);
  }
  if (!settings.token && !NAME_PATTERN.test(settings.user)) {
    return showJoinError('Names are 1–64 letters, digits or _ . : -', fields.user);
  }
  if (!NAME_PATTERN.test(settings.room)) {
    return showJoinError('Room names are 1–64 letters, digits or _ . : -', fields.room);
  }
  if (settings.server && !settings.token) {
    return showJoinError(
      'That server needs a token signed with its secret: paste it under Settings → Token.',
      fields.token,
    );
  }
  const user = settings.user;
  const getToken = () => devToken(user);
  if (!settings.token) {
    ui.joinButton.disabled = true;
    ui.joinButton.textContent = 'Joining…';
    try {
      await getToken();
    } catch (error) {
      return showJoinError((error as Error).message, fields.user);
    } finally {
      ui.joinButton.disabled = false;
      ui.joinButton.textContent = 'Join';
    }
  }
  saveSettings(settings);
  rememberJoined(true);
  leave({ keepJoined: true });
  setMe(subject ?? user);
  joinedAt = Date.now();
  startSession({
    url,
    room: settings.room,
    // The default; passed explicitly so that type-checking this page proves the browser's WebSocket fits the SDK.
    WebSocket,
    ...(settings.token ? { token: settings.token } : { getToken }),
    reconnect: { initialDelayMs: 250, maxDelayMs: 5000 },
  });
  showChat(settings.room);
}

/** A development token from the local stack, or an error that says what to do. */
async function devToken(user: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(`/_local/token?user=${encodeURIComponent(user)}`);
  } catch {
    throw new Error("Can't reach the server. Check that it is running, then try again.");
  }
  if (response.status === 404) {
    throw new Error('This server has its own secret: paste a token made with it under Settings → Token.');
  }
  if (!response.ok) throw new Error('Names are 1–64 letters, digits or _ . : -');
  return ((await response.json()) as { token: string }).token;
}

/** Starts a client; `resume` continues after what the page lists already (Reconnect after the SDK gave up). */
function startSession(
  base: ConnectOptions,
  resume?: { afterSeq: number | undefined; directAfterSeq: number | undefined },
): void {
  const client = connect({
    ...base,
    catchUp: resume ? { ...resume, initial: INITIAL_MESSAGES } : { initial: INITIAL_MESSAGES },
  });
  const s: Session = {
    client,
    base,
    room: base.room,
    change: undefined,
    everOpened: resume !== undefined,
    lost: resume !== undefined,
    resumed: resume !== undefined,
    caughtUp: 0,
    sawReconnected: false,
  };
  session = s;
  // Events of a client that was replaced or closed are not this page's any more.
  const mine =
    <T>(handler: (value: T) => void) =>
    (value: T) => {
      if (session === s) handler(value);
    };
  client.on(
    'state',
    mine((change) => onState(s, change)),
  );
  client.on('message', mine(onRoomMessage));
  client.on('direct', mine(onDirect));
  client.on('presence', mine(onPresence));
  client.on('members', mine(renderMembers));
  client.on(
    'error',
    mine((error) => onServerError(error)),
  );
  client.on(
    'reconnected',
    mine(() => {
      s.sawReconnected = true;
    }),
  );
  client.on(
    'recovered',
    mine(({ room, direct }) => showNotice(caughtUpText(room + direct))),
  );
  client.on(
    'repair',
    mine((repair) => {
      // A resumed client's first catch-up is not a reconnect to the SDK: the page counts it from the repairs.
      if (!s.resumed || s.sawReconnected || repair.reason !== 'reconnect') return;
      s.caughtUp += repair.recovered;
      showNotice(caughtUpText(s.caughtUp));
    }),
  );
}

/** Closes the client and forgets the room: its messages, members, conversations and state. */
function leave({ keepJoined = false } = {}): void {
  const s = session;
  session = undefined;
  s?.client.close();
  if (!keepJoined) rememberJoined(false);
  for (const conversation of conversations.values()) conversation.list.remove();
  conversations.clear();
  active = undefined;
  members.clear();
  membersTruncated = false;
  roomOlder = { cursor: undefined, done: false };
  directOlder = { cursor: undefined, done: false };
  directMin = undefined;
  directBaseline = undefined;
  me = '';
  ui.members.replaceChildren();
  ui.conversations.replaceChildren();
  ui.text.value = '';
  updateComposer();
  showSendError('');
  showError('');
  hideNotice();
  setMembersOpen(false);
  ui.newMessages.hidden = true;
  ui.loadOlder.hidden = true;
  ui.chat.hidden = true;
  ui.join.hidden = false;
  document.body.dataset.view = 'join';
  ui.leave.hidden = true;
  ui.me.hidden = true;
  ui.membersToggle.hidden = true;
  ui.reconnect.hidden = true;
  setStatus('Not connected', 'idle', '');
  document.title = 'roomcast — chat';
}

function showChat(room: string): void {
  ui.join.hidden = true;
  ui.chat.hidden = false;
  document.body.dataset.view = 'chat';
  ui.leave.hidden = false;
  ui.membersToggle.hidden = false;
  const lobby = new Conversation('room', undefined, 'No messages yet. Say hello!');
  lobby.list.dataset.room = room;
  conversations.set(lobby.key, lobby);
  ui.timeline.append(lobby.list);
  show(lobby);
  renderMembersList();
}

function setMe(user: string): void {
  me = user;
  ui.meName.textContent = user;
  ui.me.hidden = !user;
}

function showTokenIdentity(): void {
  const token = fields.token.value.trim();
  const subject = token ? tokenSubject(token) : undefined;
  ui.tokenIdentity.hidden = !token;
  ui.tokenIdentity.textContent = subject
    ? `The token signs you in as “${subject}”.`
    : 'That does not look like a token: paste the whole token.';
  // The name is the token's: the field would only mislead.
  fields.user.disabled = subject !== undefined;
}

function showJoinError(text: string, focus?: HTMLInputElement): void {
  ui.joinError.textContent = text;
  ui.joinError.hidden = !text;
  if (!text) return;
  if (focus === fields.server || focus === fields.token) ui.settings.open = true;
  focus?.focus();
}

// ---------------------------------------------------------------------------------------------------------------
// The connection
// ---------------------------------------------------------------------------------------------------------------

function onState(s: Session, change: StateChange): void {
  s.change = change;
  // The identity the server will see: the `sub` of the token in use (read before every attempt).
  const userId = s.client.userId;
  if (userId && userId !== me) setMe(userId);
  if (change.state === 'open') {
    const back = s.lost;
    s.everOpened = true;
    s.lost = false;
    showError('');
    if (back) showNotice(caughtUpText(s.caughtUp));
    refreshMembers(s);
    if (directBaseline === undefined) findDirectBaseline(s);
  } else if (change.state === 'closed') {
    const text = closedText(change, s.room);
    if (change.reason === 'gave-up') showError(text ?? '');
    else if (text) {
      // The token or the room: no retry helps. Back to the form, with what to do.
      leave();
      showJoinError(text, change.reason === 'unauthorized' ? fields.token : fields.room);
      return;
    }
  } else {
    if (s.everOpened) s.lost = true;
    hideNotice();
  }
  renderStatus();
}

function renderStatus(): void {
  const s = session;
  const change = s?.change;
  if (!s || !change) return;
  const online = navigator.onLine;
  const text = statusText(change, { everOpened: s.everOpened, online });
  const tone = change.state === 'open' && online ? 'good' : change.state === 'closed' ? 'bad' : 'warn';
  const detail =
    change.state === 'reconnecting'
      ? `attempt ${change.attempt}: ${change.reason}`
      : change.state === 'closed'
        ? change.detail
        : '';
  setStatus(text, tone, detail);
  const retrying = change.state === 'reconnecting' || (change.state === 'connecting' && change.attempt > 1);
  ui.reconnect.hidden = !(retrying || (change.state === 'closed' && change.reason === 'gave-up'));
}

function setStatus(text: string, tone: string, detail: string): void {
  ui.status.textContent = text;
  ui.status.dataset.tone = tone;
  // The technical reason, for whoever hovers: the line itself stays in plain words.
  ui.status.title = detail;
}

ui.reconnect.addEventListener('click', () => reconnect());

/** Tries now: at once while the SDK waits to retry; a new client, resuming, once it gave up. */
function reconnect(): void {
  const s = session;
  if (!s) return;
  if (s.client.state === 'reconnecting') {
    s.client.reconnectNow();
    return;
  }
  if (s.client.state === 'open') return;
  const resume = { afterSeq: s.client.lastSeq, directAfterSeq: s.client.lastDirectSeq };
  session = undefined;
  s.client.close();
  showError('');
  startSession(s.base, resume);
}

window.addEventListener('offline', () => renderStatus());
window.addEventListener('online', () => {
  renderStatus();
  // The SDK retries by itself when the network comes back, unless it had given up.
  if (session?.client.state === 'closed') reconnect();
});

function onServerError(error: Pick<RoomcastError, 'code' | 'message'>): void {
  if (error.code === 'LISTENER_FAILED') {
    // A bug of this page, not something its user can act on.
    console.error(error);
    return;
  }
  showError(serverErrorText(error.code), { forMs: NOTICE_MS });
}

/** The error line under the header; `forMs`: it goes by itself (what it says will not stay true). */
function showError(text: string, { forMs }: { forMs?: number } = {}): void {
  clearTimeout(errorTimer);
  (ui.error.querySelector('.text') as HTMLElement).textContent = text;
  ui.error.hidden = !text;
  if (text && forMs) errorTimer = setTimeout(() => showError(''), forMs);
}

ui.dismissError.addEventListener('click', () => showError(''));

function showNotice(text: string): void {
  ui.notice.textContent = text;
  ui.notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(hideNotice, NOTICE_MS);
}

function hideNotice(): void {
  clearTimeout(noticeTimer);
  ui.notice.hidden = true;
}

// ---------------------------------------------------------------------------------------------------------------
// Messages and conversations
// ---------------------------------------------------------------------------------------------------------------

function onRoomMessage(frame: MessageFrame): void {
  const room = conversations.get('room');
  if (room) deliver(room, frame);
}

function onDirect(frame: DirectFrame): void {
  directMin = Math.min(directMin ?? frame.seq, frame.seq);
  deliver(conversationWith(peerOf(frame)), frame);
}

function peerOf(frame: DirectFrame): string {
  return frame.from_user_id === me ? frame.to_user_id : frame.from_user_id;
}

function conversationWith(peer: string): Conversation {
  const key = `@${peer}`;
  let conversation = conversations.get(key);
  if (!conversation) {
    conversation = new Conversation(key, peer, `This is the start of your direct messages with ${peer}.`);
    conversations.set(key, conversation);
    ui.timeline.append(conversation.list);
    renderConversations();
  }
  return conversation;
}

/** Lists a message in its conversation; counts it unread, or scrolls to it, or offers to. */
function deliver(conversation: Conversation, frame: MessageFrame | DirectFrame): void {
  const shown = conversation === active;
  const stick = shown && atBottom();
  const added = conversation.add(frame, me);
  if (!added) return;
  const fromMe = (frame.action === 'message' ? frame.user_id : frame.from_user_id) === me;
  if (added.last && !fromMe && !shown) {
    const known =
      frame.action === 'direct' &&
      directBaseline !== undefined &&
      frame.seq <= directBaseline &&
      Date.parse(frame.timestamp) < joinedAt;
    if (!known) {
      conversation.unread += 1;
      added.item.dataset.unread = 'yes';
    }
  }
  if (frame.action === 'direct' || !shown) renderConversations();
  if (!shown) return;
  if (stick || (fromMe && added.last)) scrollToBottom();
  else if (added.last) ui.newMessages.hidden = false;
  updateLoadOlder();
}

/** The newest inbox seq now: the direct messages of the catch-up, up to it, were there before; not unread. */
function findDirectBaseline(s: Session): void {
  s.client
    .history({ direct: true, limit: 1 })
    .then((page) => {
      if (session !== s) return;
      directBaseline = page.latest_seq;
      for (const conversation of conversations.values()) {
        conversation.forgetUnreadUpTo(page.latest_seq, joinedAt);
      }
      renderConversations();
    })
    .catch(() => {
      if (session !== s) return;
      // Unknown: then every direct message counts.
      directBaseline = 0;
      renderConversations();
    });
}

function onPresence(frame: PresenceFrame): void {
  const room = conversations.get('room');
  if (frame.event === 'join') members.set(frame.user_id, Math.max(1, members.get(frame.user_id) ?? 0));
  else members.delete(frame.user_id);
  renderMembersList();
  // Events the server left out: the list may have changed more than the frames said.
  if (frame.missed && session) refreshMembers(session);
  if (!room) return;
  const stick = room === active && atBottom();
  room.addNotice(`${frame.user_id} ${frame.event === 'join' ? 'joined' : 'left'}`);
  if (stick) scrollToBottom();
}

function refreshMembers(s: Session): void {
  s.client.members().catch(() => {});
}

function renderMembers(frame: MembersFrame): void {
  members.clear();
  for (const { user_id, connections } of frame.users) members.set(user_id, connections);
  membersTruncated = frame.truncated === true;
  renderMembersList();
}

function renderMembersList(): void {
  const users = [...members.keys()].sort();
  ui.memberCount.textContent = members.size ? String(members.size) : '';
  ui.members.replaceChildren(
    ...users.map((user) => {
      const item = document.createElement('li');
      if (user === me) {
        item.className = 'self';
        item.textContent = `${user} (you)`;
        return item;
      }
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.user = user;
      button.append(Object.assign(document.createElement('span'), { className: 'name', textContent: user }));
      button.title = `Send ${user} a direct message`;
      button.addEventListener('click', () => {
        setMembersOpen(false);
        show(conversationWith(user));
      });
      item.append(button);
      return item;
    }),
  );
  if (membersTruncated) {
    ui.members.append(
      Object.assign(document.createElement('li'), { className: 'self', textContent: '…and more' }),
    );
  }
}

function renderConversations(): void {
  const room = conversations.get('room');
  const direct = [...conversations.values()].filter((c) => c.peer !== undefined);
  // The most recent first: inbox seqs order every direct message of this user.
  direct.sort((a, b) => newestSeq(b) - newestSeq(a));
  ui.conversations.replaceChildren(
    ...[room, ...direct].flatMap((conversation) => {
      if (!conversation) return [];
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.conversation = conversation.key;
      button.setAttribute('aria-current', String(conversation === active));
      const name = conversation.peer ?? `#${conversation.list.dataset.room ?? ''}`;
      button.append(Object.assign(document.createElement('span'), { className: 'name', textContent: name }));
      const unread = unreadOf(conversation);
      if (unread > 0) {
        const badge = Object.assign(document.createElement('span'), {
          className: 'unread',
          textContent: String(unread),
        });
        badge.setAttribute('aria-label', `${unread} unread`);
        button.append(badge);
      }
      button.addEventListener('click', () => show(conversation));
      item.append(button);
      return [item];
    }),
  );
  const unread = [...conversations.values()].reduce((sum, c) => sum + unreadOf(c), 0);
  document.title = unread > 0 ? `(${unread}) roomcast — chat` : 'roomcast — chat';
}

/** Direct messages count once the page knows which were there before it joined (no flash of old ones). */
function unreadOf(conversation: Conversation): number {
  return conversation.peer !== undefined && directBaseline === undefined ? 0 : conversation.unread;
}

function newestSeq(conversation: Conversation): number {
  const items = conversation.list.querySelectorAll<HTMLLIElement>('li[data-seq]');
  const last = items[items.length - 1];
  return last ? Number(last.dataset.seq) : 0;
}

/** Shows a conversation: its messages where the user left them, its draft, its unread count cleared. */
function show(conversation: Conversation): void {
  const previous = active;
  if (previous && previous !== conversation) {
    previous.savedScroll = atBottom() ? undefined : ui.timeline.scrollTop;
    previous.draft = ui.text.value;
    previous.list.hidden = true;
  }
  active = conversation;
  conversation.list.hidden = false;
  conversation.markRead();
  if (previous !== conversation) {
    ui.text.value = conversation.draft;
    showSendError('');
  }
  const peer = conversation.peer;
  ui.conversationTitle.textContent = peer ?? `#${conversation.list.dataset.room ?? ''}`;
  ui.conversationHint.textContent = peer ? 'direct messages' : 'room';
  ui.text.placeholder = peer ? `Message ${peer}` : `Message #${conversation.list.dataset.room ?? ''}`;
  ui.newMessages.hidden = true;
  updateLoadOlder();
  if (conversation.savedScroll === undefined) scrollToBottom();
  else ui.timeline.scrollTop = conversation.savedScroll;
  updateComposer();
  renderConversations();
  focusComposer();
}

/** Where a keyboard is at hand; on a touch screen focusing would pop the on-screen keyboard up at every turn. */
function focusComposer(): void {
  if (matchMedia('(pointer: fine)').matches) ui.text.focus();
}

// ---------------------------------------------------------------------------------------------------------------
// Scrolling and older messages
// ---------------------------------------------------------------------------------------------------------------

function atBottom(): boolean {
  const { scrollHeight, scrollTop, clientHeight } = ui.timeline;
  return scrollHeight - scrollTop - clientHeight <= BOTTOM_SLACK_PX;
}

function scrollToBottom(): void {
  ui.timeline.scrollTop = ui.timeline.scrollHeight;
  ui.newMessages.hidden = true;
}

ui.timeline.addEventListener('scroll', () => {
  if (atBottom()) ui.newMessages.hidden = true;
});

ui.newMessages.addEventListener('click', () => {
  scrollToBottom();
  focusComposer();
});

function updateLoadOlder(): void {
  const conversation = active;
  if (!conversation) return;
  const more =
    conversation.peer === undefined
      ? !roomOlder.done && (roomOlder.cursor ?? conversation.oldestSeq ?? 0) > 1
      : !directOlder.done && (directOlder.cursor ?? directMin ?? 0) > 1;
  ui.loadOlder.hidden = !more;
}

ui.loadOlder.addEventListener('click', () => void loadOlder());

/** Puts the previous page in front of the conversation, keeping what the user looks at where it is. */
async function loadOlder(): Promise<void> {
  const s = session;
  const conversation = active;
  if (!s || !conversation) return;
  ui.loadOlder.disabled = true;
  ui.loadOlder.textContent = 'Loading…';
  try {
    if (conversation.peer === undefined) {
      const page = await s.client.history({
        beforeSeq: roomOlder.cursor ?? conversation.oldestSeq,
        limit: OLDER_PAGE,
      });
      if (session !== s) return;
      keepPosition(() => {
        for (const frame of page.messages) if (frame.action === 'message') conversation.add(frame, me);
      });
      roomOlder = { cursor: page.next_before_seq ?? lowestSeq(page.messages), done: !page.has_more };
    } else {
      // The inbox holds every conversation's messages: page back until this one has more, or nothing is left.
      for (let pages = 0; pages < 5 && !directOlder.done; pages++) {
        const page = await s.client.history({
          direct: true,
          beforeSeq: directOlder.cursor ?? directMin,
          limit: 100,
        });
        if (session !== s) return;
        let found = 0;
        keepPosition(() => {
          for (const frame of page.messages) {
            if (frame.action !== 'direct') continue;
            directMin = Math.min(directMin ?? frame.seq, frame.seq);
            const target = conversationWith(peerOf(frame));
            if (target.add(frame, me) && target === conversation) found += 1;
          }
        });
        directOlder = { cursor: page.next_before_seq ?? lowestSeq(page.messages), done: !page.has_more };
        if (found > 0) break;
      }
    }
  } catch (error) {
    const code = (error as RoomcastError).code;
    showError(
      code === 'CLOSED' || code === 'TIMEOUT'
        ? 'Could not load older messages: no answer from the server. Try again once connected.'
        : 'Could not load older messages. Try again in a moment.',
    );
  } finally {
    ui.loadOlder.disabled = false;
    ui.loadOlder.textContent = 'Load older messages';
    // The button goes once nothing is older: what the user looks at stays where it is.
    keepPosition(updateLoadOlder);
  }
}

function lowestSeq(frames: Array<{ seq: number }>): number | undefined {
  return frames.length ? Math.min(...frames.map((frame) => frame.seq)) : undefined;
}

function keepPosition(change: () => void): void {
  const fromBottom = ui.timeline.scrollHeight - ui.timeline.scrollTop;
  change();
  ui.timeline.scrollTop = ui.timeline.scrollHeight - fromBottom;
}

// ---------------------------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------------------------

ui.compose.addEventListener('submit', (event) => {
  event.preventDefault();
  submit();
});

ui.text.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submit();
  } else if (event.key === 'Escape') {
    const room = conversations.get('room');
    if (room && active !== room) show(room);
  }
});

ui.text.addEventListener('input', () => {
  updateComposer();
  if (!ui.sendError.hidden && charCount(ui.text.value) <= MAX_MESSAGE_CHARS) showSendError('');
});

function submit(): void {
  const s = session;
  const conversation = active;
  const text = ui.text.value;
  if (!s || !conversation || !text.trim()) return;
  const length = charCount(text);
  if (length > MAX_MESSAGE_CHARS) {
    showSendError(
      `Not sent: messages can be at most ${formatCount(MAX_MESSAGE_CHARS)} characters, and this one has ${formatCount(length)}. Shorten it by ${formatCount(length - MAX_MESSAGE_CHARS)}.`,
    );
    return;
  }
  const retry = conversation.retry?.text === text ? conversation.retry : undefined;
  const clientMsgId = retry?.clientMsgId ?? newClientMsgId();
  conversation.retry = undefined;
  showSendError('');
  conversation.addPending(text, clientMsgId);
  ui.text.value = '';
  updateComposer();
  scrollToBottom();
  sendVia(s, conversation, text, clientMsgId);
}

function sendVia(s: Session, conversation: Conversation, text: string, clientMsgId: string): void {
  const to = conversation.peer;
  const sent = to ? s.client.sendDirect(to, text, { clientMsgId }) : s.client.send(text, { clientMsgId });
  sent.then(
    (frame) => {
      // Normally listed by now (the stream hands it over); otherwise the pending line goes when it is.
      if (conversation.has(frame.message_id)) conversation.removePending(clientMsgId);
    },
    (error: RoomcastError) => {
      if (conversations.get(conversation.key) !== conversation) return; // left the room meanwhile
      if (error.code === 'CLOSED' && session && session !== s) {
        // Reconnect replaced the client: the same send on the new one, with the same id, is stored once.
        sendVia(session, conversation, text, clientMsgId);
        return;
      }
      conversation.removePending(clientMsgId);
      giveBack(conversation, text, error.code === 'TIMEOUT' ? clientMsgId : undefined);
      const message = sendErrorText(error.code, to);
      if (conversation === active) showSendError(message);
      else showError(`${to ? `To ${to}` : 'In the room'}: ${message}`);
    },
  );
}

/** A message that was not sent goes back where it was typed, so nothing typed is lost. */
function giveBack(conversation: Conversation, text: string, clientMsgId: string | undefined): void {
  const current = conversation === active ? ui.text.value : conversation.draft;
  const restored = current ? `${text}\n${current}` : text;
  if (conversation === active) {
    ui.text.value = restored;
    updateComposer();
    ui.text.focus();
  } else conversation.draft = restored;
  if (clientMsgId && !current) conversation.retry = { text, clientMsgId };
}

function showSendError(text: string): void {
  ui.sendError.textContent = text;
  ui.sendError.hidden = !text;
}

/** The counter against the server's limit, and the box's height (it grows with the text, up to a point). */
function updateComposer(): void {
  const length = charCount(ui.text.value);
  const over = length > MAX_MESSAGE_CHARS;
  ui.counter.textContent = length
    ? `${formatCount(length)} / ${formatCount(MAX_MESSAGE_CHARS)}${over ? ` — ${formatCount(length - MAX_MESSAGE_CHARS)} too many` : ''}`
    : '';
  ui.counter.dataset.level = over ? 'over' : length > MAX_MESSAGE_CHARS * 0.9 ? 'near' : '';
  ui.text.style.height = 'auto';
  if (ui.text.value) ui.text.style.height = `${ui.text.scrollHeight + 2}px`;
}

function newClientMsgId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Members on phones: a panel behind a header button
// ---------------------------------------------------------------------------------------------------------------

ui.membersToggle.addEventListener('click', () => setMembersOpen(!ui.membersPanel.hasAttribute('data-open')));
ui.closeMembers.addEventListener('click', () => setMembersOpen(false));
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && ui.membersPanel.hasAttribute('data-open')) setMembersOpen(false);
});
document.addEventListener('click', (event) => {
  const target = event.target as Node;
  if (!ui.membersPanel.hasAttribute('data-open')) return;
  if (!ui.membersPanel.contains(target) && !ui.membersToggle.contains(target)) setMembersOpen(false);
});

function setMembersOpen(open: boolean): void {
  ui.membersPanel.toggleAttribute('data-open', open);
  ui.membersToggle.setAttribute('aria-expanded', String(open));
  if (open) ui.members.querySelector('button')?.focus();
}
