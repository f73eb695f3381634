import {
  type ConnectOptions,
  connect,
  type DirectFrame,
  type MembersFrame,
  type MessageFrame,
  type PresenceFrame,
  type Repair,
  type Room,
  type RoomcastClient,
  type RoomcastError,
  type StateChange,
} from '@roomcast/client';
import { Conversation } from './conversation.ts';
import {
  loadJoinedRooms,
  loadSettings,
  parseServer,
  rememberJoined,
  type Settings,
  saveJoinedRooms,
  saveSettings,
  wasJoined,
} from './settings.ts';
import {
  caughtUpText,
  charCount,
  closedText,
  formatCount,
  MAX_MESSAGE_CHARS,
  roomRefusedText,
  sendErrorText,
  serverErrorText,
  statusText,
  tokenSubject,
} from './words.ts';

/**
 * The demo chat page: the client SDK and the DOM, no framework. One connection for as long as the user is signed
 * in; on it the rooms the user joined (`client.room(id)`) and the direct messages of the user the token names,
 * each in its own conversation; the connection's state in plain words.
 */
const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  status: byId<HTMLParagraphElement>('status'),
  reconnect: byId<HTMLButtonElement>('reconnect'),
  me: byId<HTMLSpanElement>('me'),
  meName: byId<HTMLElement>('me-name'),
  membersToggle: byId<HTMLButtonElement>('members-toggle'),
  memberCount: byId<HTMLSpanElement>('member-count'),
  signOut: byId<HTMLButtonElement>('sign-out'),
  error: byId<HTMLParagraphElement>('error'),
  dismissError: byId<HTMLButtonElement>('dismiss-error'),
  notice: byId<HTMLParagraphElement>('notice'),
  join: byId<HTMLFormElement>('join'),
  joinButton: byId<HTMLButtonElement>('join-button'),
  joinError: byId<HTMLParagraphElement>('join-error'),
  tokenIdentity: byId<HTMLParagraphElement>('token-identity'),
  settings: byId<HTMLDetailsElement>('settings'),
  chat: byId<HTMLElement>('chat'),
  tabs: document.querySelector('#conversations .tabs') as HTMLDivElement,
  rooms: byId<HTMLUListElement>('rooms'),
  addRoom: byId<HTMLButtonElement>('add-room'),
  joinRoom: byId<HTMLFormElement>('join-room'),
  newRoom: byId<HTMLInputElement>('new-room'),
  joinRoomError: byId<HTMLParagraphElement>('join-room-error'),
  directsTitle: byId<HTMLHeadingElement>('directs-title'),
  directs: byId<HTMLUListElement>('directs'),
  membersPanel: byId<HTMLElement>('members-panel'),
  membersTitle: byId<HTMLHeadingElement>('members-title'),
  closeMembers: byId<HTMLButtonElement>('close-members'),
  members: byId<HTMLUListElement>('members'),
  conversationTitle: byId<HTMLHeadingElement>('conversation-title'),
  conversationHint: byId<HTMLSpanElement>('conversation-hint'),
  noConversation: byId<HTMLParagraphElement>('no-conversation'),
  timeline: byId<HTMLDivElement>('timeline'),
  loadOlder: byId<HTMLButtonElement>('load-older'),
  newMessages: byId<HTMLButtonElement>('new-messages'),
  compose: byId<HTMLFormElement>('compose'),
  readOnly: byId<HTMLParagraphElement>('read-only'),
  text: byId<HTMLTextAreaElement>('text'),
  sendError: byId<HTMLParagraphElement>('send-error'),
  counter: byId<HTMLSpanElement>('counter'),
};
const field = (name: string) => ui.join.elements.namedItem(name) as HTMLInputElement;
const fields = { user: field('user'), room: field('room'), server: field('server'), token: field('token') };
const NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Newest messages shown on joining (each room, and direct); older ones through "Load older messages". */
const INITIAL_MESSAGES = 50;
const OLDER_PAGE = 50;
/** How far from the bottom still counts as "at the bottom" (a line's height, give or take). */
const BOTTOM_SLACK_PX = 48;
const NOTICE_MS = 15_000;
const stagePath =
  document.querySelector<HTMLMetaElement>('meta[name="roomcast-stage-path"]')?.content || '/dev';
const localServer = `${location.origin.replace(/^http/, 'ws')}${stagePath}`;

/**
 * One connection, as long as the user stays signed in, holding every room joined; Reconnect after the SDK gave up
 * starts another.
 */
interface Session {
  client: RoomcastClient;
  /** What `connect` got, but for catch-up: a restart passes these again. */
  base: ConnectOptions;
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

/**
 * A room the page holds: its conversation, its members and how far back it was read. It outlives the client (a
 * Reconnect after the SDK gave up takes the room again on the new one).
 */
interface RoomView {
  id: string;
  /** The room on the current session's client. */
  room: Room;
  conversation: Conversation;
  members: Map<string, number>;
  membersTruncated: boolean;
  /** Paging back through the room: the next `beforeSeq`, and whether it is done. */
  older: Paging;
  /**
   * While the room's first catch-up runs: the messages it hands over that were sent before this (epoch ms, when
   * the page took the room) were there before, and are not unread. Undefined once it is done, or for a room taken
   * again to resume (everything it hands over is new).
   */
  startedAt: number | undefined;
}

interface Paging {
  cursor: number | undefined;
  done: boolean;
}

let session: Session | undefined;
/** Who the server knows this page as: the token's `sub`. */
let me = '';
/** Every conversation by key: `#room` for the rooms held, `@user` for the direct messages. */
const conversations = new Map<string, Conversation>();
let active: Conversation | undefined;
/** The rooms held, in the order joined. */
const rooms = new Map<string, RoomView>();
/** The room whose members are listed: the one shown, or the one shown last while a direct conversation is. */
let current: RoomView | undefined;
/** Paging back through this user's inbox: the next `beforeSeq`, and whether it is done. */
let directOlder: Paging = { cursor: undefined, done: false };
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
// Signing in and out; joining and leaving rooms
// ---------------------------------------------------------------------------------------------------------------

const initial = loadSettings();
fields.user.value = initial.user;
fields.room.value = initial.room;
fields.server.value = initial.server;
fields.token.value = initial.token;
ui.settings.open = initial.fromQuery || initial.server !== '' || initial.token !== '';
showTokenIdentity();
fields.token.addEventListener('input', showTokenIdentity);
if (wasJoined()) void join({ restore: true });

ui.join.addEventListener('submit', (event) => {
  event.preventDefault();
  void join();
});

ui.signOut.addEventListener('click', () => {
  signOut();
  fields.room.focus();
});

/**
 * Signs in from the form and joins its room; with `restore` (a reload of a tab that was signed in), the rooms the
 * tab held instead, showing the one it showed.
 */
async function join({ restore = false } = {}): Promise<void> {
  const settings: Settings = {
    user: fields.user.value.trim(),
    room: fields.room.value.trim(),
    server: fields.server.value.trim(),
    token: fields.token.value.trim(),
  };
  const remembered = restore ? loadJoinedRooms() : undefined;
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
  if (!remembered && !NAME_PATTERN.test(settings.room)) {
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
  signOut({ keepJoined: true });
  setMe(subject ?? user);
  joinedAt = Date.now();
  const s = startSession({
    url,
    // The default; passed explicitly so that type-checking this page proves the browser's WebSocket fits the SDK.
    WebSocket,
    ...(settings.token ? { token: settings.token } : { getToken }),
    reconnect: { initialDelayMs: 250, maxDelayMs: 5000 },
  });
  showChat();
  // No default room: every room is the page's own `client.room(id)`, taken on the one connection.
  for (const id of remembered?.rooms ?? [settings.room]) openRoom(s, id);
  const shown = rooms.get(remembered?.shown ?? '') ?? [...rooms.values()][0];
  if (shown) show(shown.conversation);
  else showNothing();
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

/**
 * Starts a client; `resume` continues after what the page lists already (Reconnect after the SDK gave up): the
 * rooms held are taken again on the new client, each after its last seq.
 */
function startSession(
  base: ConnectOptions,
  resume?: { directAfterSeq: number | undefined; rooms: Map<string, number | undefined> },
): Session {
  const client = connect({
    ...base,
    catchUp: { initial: INITIAL_MESSAGES, ...(resume && { directAfterSeq: resume.directAfterSeq }) },
  });
  const s: Session = {
    client,
    base,
    change: undefined,
    everOpened: resume !== undefined,
    lost: resume !== undefined,
    resumed: resume !== undefined,
    caughtUp: 0,
    sawReconnected: false,
  };
  session = s;
  const mine = whileCurrent(s);
  client.on(
    'state',
    mine((change) => onState(s, change)),
  );
  client.on('direct', mine(onDirect));
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
    mine(({ direct, rooms: byRoom }) => {
      const inRooms = Object.values(byRoom).reduce((sum, count) => sum + count, 0);
      showNotice(caughtUpText(direct + inRooms));
    }),
  );
  client.on(
    'repair',
    mine((repair) => countResumed(s, repair)),
  );
  for (const view of rooms.values()) {
    view.room = client.room(view.id, { afterSeq: resume?.rooms.get(view.id) });
    listen(s, view);
  }
  return s;
}

/** Events of a client that was replaced or closed are not this page's any more. */
function whileCurrent(s: Session) {
  return <T>(handler: (value: T) => void) =>
    (value: T) => {
      if (session === s) handler(value);
    };
}

/** A resumed client's first catch-up is not a reconnect to the SDK: the page counts it from the repairs. */
function countResumed(s: Session, repair: Repair): void {
  if (!s.resumed || s.sawReconnected || repair.reason !== 'reconnect') return;
  s.caughtUp += repair.recovered;
  showNotice(caughtUpText(s.caughtUp));
}

/** Takes room `id` on the session's connection (no new connection: one `subscribe` on it) and lists it. */
function openRoom(s: Session, id: string): RoomView {
  const conversation = new Conversation({ room: id }, 'No messages yet. Say hello!');
  conversations.set(conversation.key, conversation);
  ui.timeline.append(conversation.list);
  const view: RoomView = {
    id,
    room: s.client.room(id),
    conversation,
    members: new Map(),
    membersTruncated: false,
    older: { cursor: undefined, done: false },
    startedAt: Date.now(),
  };
  rooms.set(id, view);
  listen(s, view);
  saveJoined();
  return view;
}

/** The room's events, to its conversation and members, while it is held on this session's client. */
function listen(s: Session, view: RoomView): void {
  const { room } = view;
  const mine =
    <T>(handler: (value: T) => void) =>
    (value: T) => {
      if (session === s && rooms.get(view.id) === view && view.room === room) handler(value);
    };
  room.on(
    'message',
    mine((frame) => onRoomMessage(view, frame)),
  );
  room.on(
    'presence',
    mine((frame) => onPresence(view, frame)),
  );
  room.on(
    'members',
    mine((frame) => renderMembers(view, frame)),
  );
  room.on(
    'repair',
    mine((repair) => countResumed(s, repair)),
  );
  room.on(
    'error',
    mine((error) => onRoomError(view, error)),
  );
  if (s.resumed) view.startedAt = undefined;
  room.ready.then(
    mine(() => {
      view.startedAt = undefined;
    }),
    () => {},
  );
  if (s.client.state === 'open') refreshMembers(view);
}

ui.joinRoom.addEventListener('submit', (event) => {
  event.preventDefault();
  const s = session;
  const id = ui.newRoom.value.trim();
  if (!s) return;
  if (!NAME_PATTERN.test(id)) {
    showJoinRoomError('Room names are 1–64 letters, digits or _ . : -');
    ui.newRoom.focus();
    return;
  }
  showJoinRoomError('');
  ui.newRoom.value = '';
  setJoinRoomOpen(false);
  show((rooms.get(id) ?? openRoom(s, id)).conversation);
});

ui.newRoom.addEventListener('input', () => showJoinRoomError(''));
ui.newRoom.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape' || !ui.joinRoom.hasAttribute('data-open')) return;
  setJoinRoomOpen(false);
  ui.addRoom.focus();
});
ui.addRoom.addEventListener('click', () => {
  const open = !ui.joinRoom.hasAttribute('data-open');
  setJoinRoomOpen(open);
  if (open) ui.newRoom.focus();
});

/** On phones the room field is a line under the tabs, behind +; on larger screens it is always there. */
function setJoinRoomOpen(open: boolean): void {
  ui.joinRoom.toggleAttribute('data-open', open);
  ui.addRoom.setAttribute('aria-expanded', String(open));
  if (!open) showJoinRoomError('');
}

function showJoinRoomError(text: string): void {
  ui.joinRoomError.textContent = text;
  ui.joinRoomError.hidden = !text;
}

/** Leaves one room: `unsubscribe` on the connection, which stays; its conversation and members go. */
function leaveRoom(view: RoomView): void {
  if (rooms.get(view.id) !== view) return;
  forgetRoom(view);
  // Its events stop at once; the answer to the unsubscribe changes nothing the page shows.
  view.room.leave().catch(() => {});
}

/** Takes the room out of the page; shows the next one if it was shown. */
function forgetRoom(view: RoomView): void {
  const order = [...rooms.values()];
  const index = order.indexOf(view);
  rooms.delete(view.id);
  conversations.delete(view.conversation.key);
  view.conversation.list.remove();
  if (current === view) current = order[index + 1] ?? order[index - 1];
  saveJoined();
  renderMembersList();
  if (active !== view.conversation) {
    renderConversations();
    return;
  }
  active = undefined;
  const then = current?.conversation ?? [...conversations.values()].find((c) => c.direct);
  if (then) show(then);
  else showNothing();
}

/** The server refused a room for good (the SDK no longer holds it), or a listener of this page threw. */
function onRoomError(view: RoomView, error: RoomcastError): void {
  if (error.code === 'LISTENER_FAILED') {
    console.error(error);
    return;
  }
  const text = roomRefusedText(error.code, view.id);
  forgetRoom(view);
  const direct = [...conversations.values()].some((c) => c.direct);
  if (rooms.size === 0 && !direct) {
    // Nothing left to show: back to the form, with what to do (as when the room from the form is refused).
    signOut();
    showJoinError(text, fields.room);
    return;
  }
  showError(text);
}

/** Remembers the rooms held and the room shown, for a reload of this tab. */
function saveJoined(): void {
  if (!session) return;
  saveJoinedRooms({ rooms: [...rooms.keys()], shown: current?.id });
}

/** Closes the client and forgets every room: messages, members, conversations and state. */
function signOut({ keepJoined = false } = {}): void {
  const s = session;
  session = undefined;
  s?.client.close();
  if (!keepJoined) {
    rememberJoined(false);
    saveJoinedRooms(undefined);
  }
  for (const conversation of conversations.values()) conversation.list.remove();
  conversations.clear();
  rooms.clear();
  active = undefined;
  current = undefined;
  directOlder = { cursor: undefined, done: false };
  directMin = undefined;
  directBaseline = undefined;
  me = '';
  ui.members.replaceChildren();
  ui.rooms.replaceChildren();
  ui.directs.replaceChildren();
  ui.text.value = '';
  updateComposer();
  showSendError('');
  showError('');
  hideNotice();
  setMembersOpen(false);
  setJoinRoomOpen(false);
  ui.newRoom.value = '';
  ui.newMessages.hidden = true;
  ui.loadOlder.hidden = true;
  ui.chat.hidden = true;
  ui.join.hidden = false;
  document.body.dataset.view = 'join';
  ui.signOut.hidden = true;
  ui.me.hidden = true;
  ui.membersToggle.hidden = true;
  ui.reconnect.hidden = true;
  setStatus('Not connected', 'idle', '');
  document.title = 'roomcast — chat';
}

function showChat(): void {
  ui.join.hidden = true;
  ui.chat.hidden = false;
  document.body.dataset.view = 'chat';
  ui.signOut.hidden = false;
  // The Members button too, once there is a room.
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
    // Each room's list goes out once the new connection holds the room again.
    for (const view of rooms.values()) refreshMembers(view);
    if (directBaseline === undefined) findDirectBaseline(s);
  } else if (change.state === 'closed') {
    const text = closedText(change);
    if (change.reason === 'gave-up') showError(text ?? '');
    else if (text) {
      // The token or the server: no retry helps. Back to the form, with what to do.
      signOut();
      showJoinError(text, change.reason === 'bad-request' ? fields.server : fields.token);
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
  const resume = {
    directAfterSeq: s.client.lastDirectSeq,
    rooms: new Map([...rooms.values()].map((view) => [view.id, view.room.lastSeq])),
  };
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

function onRoomMessage(view: RoomView, frame: MessageFrame): void {
  const known = view.startedAt !== undefined && Date.parse(frame.timestamp) < view.startedAt;
  deliver(view.conversation, frame, known);
}

function onDirect(frame: DirectFrame): void {
  directMin = Math.min(directMin ?? frame.seq, frame.seq);
  const known =
    directBaseline !== undefined && frame.seq <= directBaseline && Date.parse(frame.timestamp) < joinedAt;
  deliver(conversationOf(frame), frame, known);
}

/**
 * Where a direct message goes: the conversation with the other user, or, for a system message, the announcements
 * of its sender name (a real user of that name is someone else, and a reply would go to them).
 */
function conversationOf(frame: DirectFrame): Conversation {
  if (frame.system) return announcementsFrom(frame.from_user_id);
  return conversationWith(frame.from_user_id === me ? frame.to_user_id : frame.from_user_id);
}

function conversationWith(peer: string): Conversation {
  let conversation = conversations.get(`@${peer}`);
  if (!conversation) {
    conversation = new Conversation({ peer }, `This is the start of your direct messages with ${peer}.`);
    conversations.set(conversation.key, conversation);
    ui.timeline.append(conversation.list);
    renderConversations();
  }
  return conversation;
}

function announcementsFrom(sender: string): Conversation {
  let conversation = conversations.get(`!${sender}`);
  if (!conversation) {
    conversation = new Conversation({ announcer: sender }, `No announcements from ${sender}.`);
    conversations.set(conversation.key, conversation);
    ui.timeline.append(conversation.list);
    renderConversations();
  }
  return conversation;
}

/**
 * Lists a message in its conversation; counts it unread (unless `known`: it was there before the page joined), or
 * scrolls to it, or offers to.
 */
function deliver(conversation: Conversation, frame: MessageFrame | DirectFrame, known: boolean): void {
  const shown = conversation === active;
  const stick = shown && atBottom();
  const added = conversation.add(frame, me);
  if (!added) return;
  // A system message is never this user's own, whatever name it carries.
  const fromMe = !frame.system && (frame.action === 'message' ? frame.user_id : frame.from_user_id) === me;
  if (added.last && !fromMe && !shown && !known) {
    conversation.unread += 1;
    added.item.dataset.unread = 'yes';
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
        if (conversation.direct) conversation.forgetUnreadUpTo(page.latest_seq, joinedAt);
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

function onPresence(view: RoomView, frame: PresenceFrame): void {
  const { members } = view;
  if (frame.event === 'join') members.set(frame.user_id, Math.max(1, members.get(frame.user_id) ?? 0));
  else members.delete(frame.user_id);
  if (view === current) renderMembersList();
  // Events the server left out: the list may have changed more than the frames said.
  if (frame.missed) refreshMembers(view);
  const conversation = view.conversation;
  const stick = conversation === active && atBottom();
  conversation.addNotice(`${frame.user_id} ${frame.event === 'join' ? 'joined' : 'left'}`);
  if (stick) scrollToBottom();
}

function refreshMembers(view: RoomView): void {
  view.room.members().catch(() => {});
}

function renderMembers(view: RoomView, frame: MembersFrame): void {
  view.members.clear();
  for (const { user_id, connections } of frame.users) view.members.set(user_id, connections);
  view.membersTruncated = frame.truncated === true;
  if (view === current) renderMembersList();
}

/** The members of the current room. */
function renderMembersList(): void {
  const view = current;
  const members = view?.members ?? new Map<string, number>();
  const users = [...members.keys()].sort();
  ui.membersTitle.textContent = view ? `Members of #${view.id}` : 'Members';
  // In no room: no one to list.
  ui.membersPanel.hidden = !view;
  ui.membersToggle.hidden = ui.chat.hidden || !view;
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
  if (view?.membersTruncated) {
    ui.members.append(
      Object.assign(document.createElement('li'), { className: 'self', textContent: '…and more' }),
    );
  }
}

/**
 * The rooms (in the order joined, each with a Leave button) and the direct conversations, with unread counts.
 * On phones they are tabs in a row that scrolls sideways: the tab shown stays in view if it was (a count that
 * grows can push it out), and comes into view with `reveal`.
 */
function renderConversations({ reveal = false } = {}): void {
  const keepInView = reveal || shownTabInView();
  // Rebuilt lists lose the focus: it goes back to the same button in the new ones.
  const focused = document.activeElement;
  const refocus =
    focused instanceof HTMLButtonElement && focused.dataset.conversation && focused.closest('#conversations')
      ? { key: focused.dataset.conversation, className: focused.className }
      : undefined;
  ui.rooms.replaceChildren(
    ...[...rooms.values()].map((view) => {
      const item = document.createElement('li');
      const leave = document.createElement('button');
      leave.type = 'button';
      leave.className = 'leave-room link';
      leave.dataset.conversation = view.conversation.key;
      leave.textContent = '✕';
      leave.title = `Leave #${view.id}`;
      leave.setAttribute('aria-label', `Leave #${view.id}`);
      leave.addEventListener('click', () => leaveRoom(view));
      item.append(conversationButton(view.conversation), leave);
      return item;
    }),
  );
  const direct = [...conversations.values()].filter((c) => c.direct);
  // The most recent first: inbox seqs order every direct message of this user.
  direct.sort((a, b) => newestSeq(b) - newestSeq(a));
  ui.directs.replaceChildren(
    ...direct.map((conversation) => {
      const item = document.createElement('li');
      item.append(conversationButton(conversation));
      return item;
    }),
  );
  ui.directsTitle.hidden = direct.length === 0;
  if (keepInView) shownTab()?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  if (refocus && !document.activeElement?.closest('#conversations')) {
    for (const button of ui.chat.querySelectorAll<HTMLButtonElement>('#conversations button')) {
      if (button.dataset.conversation === refocus.key && button.className === refocus.className)
        button.focus();
    }
  }
  const unread = [...conversations.values()].reduce((sum, c) => sum + unreadOf(c), 0);
  document.title = unread > 0 ? `(${unread}) roomcast — chat` : 'roomcast — chat';
}

function shownTab(): HTMLElement | null {
  return ui.tabs.querySelector('button.conversation[aria-current="true"]')?.closest('li') ?? null;
}

/** Whether the shown tab is wholly in the row, clear of the + that stays at its end. */
function shownTabInView(): boolean {
  const tab = shownTab()?.getBoundingClientRect();
  const row = ui.tabs.getBoundingClientRect();
  return tab !== undefined && tab.left >= row.left && tab.right <= row.right - ui.addRoom.offsetWidth;
}

/** The button that shows a conversation: its name and unread count (in its accessible name too). */
function conversationButton(conversation: Conversation): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'conversation';
  button.dataset.conversation = conversation.key;
  button.setAttribute('aria-current', String(conversation === active));
  button.append(
    Object.assign(document.createElement('span'), { className: 'name', textContent: conversation.name }),
  );
  if (conversation.readOnly) {
    // Told apart from a user of the same name at a glance; the label says it in words.
    const tag = Object.assign(document.createElement('span'), { className: 'tag', textContent: 'system' });
    tag.setAttribute('aria-hidden', 'true');
    button.append(tag);
    button.setAttribute('aria-label', conversation.label);
  }
  const unread = unreadOf(conversation);
  if (unread > 0) {
    const badge = Object.assign(document.createElement('span'), {
      className: 'unread',
      textContent: String(unread),
    });
    badge.setAttribute('aria-hidden', 'true');
    button.append(badge);
    button.setAttribute('aria-label', `${conversation.label}, ${unread} unread`);
  }
  button.addEventListener('click', () => show(conversation));
  return button;
}

/** Direct messages count once the page knows which were there before it joined (no flash of old ones). */
function unreadOf(conversation: Conversation): number {
  return conversation.direct && directBaseline === undefined ? 0 : conversation.unread;
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
  const view = conversation.room !== undefined ? rooms.get(conversation.room) : undefined;
  if (view && view !== current) {
    current = view;
    renderMembersList();
    saveJoined();
  }
  ui.noConversation.hidden = true;
  ui.timeline.hidden = false;
  // Announcements: no composer (a reply could only reach a user who happens to have the sender's name).
  ui.compose.hidden = conversation.readOnly;
  ui.readOnly.hidden = !conversation.readOnly;
  ui.conversationTitle.textContent = conversation.name;
  ui.conversationHint.textContent = conversation.readOnly
    ? 'system announcements'
    : conversation.peer
      ? 'direct messages'
      : 'room';
  ui.text.placeholder = `Message ${conversation.name}`;
  ui.newMessages.hidden = true;
  updateLoadOlder();
  if (conversation.savedScroll === undefined) scrollToBottom();
  else ui.timeline.scrollTop = conversation.savedScroll;
  updateComposer();
  renderConversations({ reveal: true });
  focusComposer();
}

/** No conversation left to show (every room left, no direct messages): the way to join one. */
function showNothing(): void {
  if (active) {
    active.draft = ui.text.value;
    active.list.hidden = true;
  }
  active = undefined;
  ui.text.value = '';
  showSendError('');
  ui.conversationTitle.textContent = 'No room';
  ui.conversationHint.textContent = '';
  ui.noConversation.hidden = false;
  ui.timeline.hidden = true;
  ui.compose.hidden = true;
  ui.readOnly.hidden = true;
  ui.newMessages.hidden = true;
  setJoinRoomOpen(true);
  renderConversations();
  renderMembersList();
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
  const older = conversation.room !== undefined ? rooms.get(conversation.room)?.older : undefined;
  const more = older
    ? !older.done && (older.cursor ?? conversation.oldestSeq ?? 0) > 1
    : conversation.direct && !directOlder.done && (directOlder.cursor ?? directMin ?? 0) > 1;
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
    const view = conversation.room !== undefined ? rooms.get(conversation.room) : undefined;
    if (view) {
      const page = await view.room.history({
        beforeSeq: view.older.cursor ?? conversation.oldestSeq,
        limit: OLDER_PAGE,
      });
      if (session !== s || rooms.get(view.id) !== view) return;
      keepPosition(() => {
        for (const frame of page.messages) if (frame.action === 'message') conversation.add(frame, me);
      });
      view.older = { cursor: page.next_before_seq ?? lowestSeq(page.messages), done: !page.has_more };
    } else if (conversation.direct) {
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
            const target = conversationOf(frame);
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
    // From a direct conversation back to the room.
    const room = current?.conversation;
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
  if (!s || !conversation || conversation.readOnly || !text.trim()) return;
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
  const room = conversation.room !== undefined ? rooms.get(conversation.room)?.room : undefined;
  const sent: Promise<MessageFrame | DirectFrame> | undefined = to
    ? s.client.sendDirect(to, text, { clientMsgId })
    : room?.send(text, { clientMsgId });
  // A room no longer held: its conversation is gone with it.
  if (!sent) return;
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
      else showError(`${to ? `To ${to}` : `In ${conversation.name}`}: ${message}`);
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
