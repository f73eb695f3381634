import {
  connect,
  type DirectFrame,
  type MembersFrame,
  type MessageFrame,
  type RoomcastClient,
  type StateChange,
} from '@roomcast/client';

/** The demo chat page: the client SDK and a few DOM helpers, no framework. */
const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  status: byId<HTMLParagraphElement>('status'),
  join: byId<HTMLFormElement>('join'),
  leave: byId<HTMLButtonElement>('leave'),
  error: byId<HTMLParagraphElement>('error'),
  chat: byId<HTMLElement>('chat'),
  roomTitle: byId<HTMLHeadingElement>('room-title'),
  messages: byId<HTMLOListElement>('messages'),
  compose: byId<HTMLFormElement>('compose'),
  text: byId<HTMLInputElement>('text'),
  target: byId<HTMLParagraphElement>('target'),
  targetName: byId<HTMLElement>('target-name'),
  toRoom: byId<HTMLButtonElement>('to-room'),
  members: byId<HTMLUListElement>('members'),
};
const stagePath =
  document.querySelector<HTMLMetaElement>('meta[name="roomcast-stage-path"]')?.content || '/dev';
const serverField = ui.join.elements.namedItem('server') as HTMLInputElement;
// `?server=wss://…` points the page at a deployed API (the deploy walkthrough in infra/terraform/README.md).
serverField.value = new URLSearchParams(location.search).get('server') ?? '';

let client: RoomcastClient | undefined;
let me = '';
let directTo: string | undefined;

ui.join.addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(ui.join);
  const user = String(form.get('user'));
  const room = String(form.get('room'));
  const pasted = String(form.get('token') ?? '').trim();
  const server = String(form.get('server') ?? '').trim();
  showError('');
  if (server && !/^wss?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(server)) {
    showError(
      'The server is a ws:// or wss:// URL without a query string, e.g. wss://abc123.execute-api.eu-west-1.amazonaws.com/prod.',
    );
    return;
  }
  if (server && !pasted) {
    showError(
      'Another server needs a token signed with its secret: `npm run token -- <user>` with that JWT_SECRET.',
    );
    return;
  }
  const getToken = () => devToken(user);
  if (!pasted) {
    try {
      await getToken();
    } catch (error) {
      showError((error as Error).message);
      return;
    }
  }
  leave();
  delete ui.status.dataset.opened;
  me = user;
  const joined = connect({
    url: server || `${location.origin.replace(/^http/, 'ws')}${stagePath}`,
    room,
    // The default; passed explicitly so that type-checking this page proves the browser's WebSocket fits the SDK.
    WebSocket,
    ...(pasted ? { token: pasted } : { getToken }),
    reconnect: { initialDelayMs: 250, maxDelayMs: 5000 },
    catchUp: { initial: 50 },
  });
  client = joined;
  joined.on('state', (change) => renderState(change, room));
  joined.on('message', addMessage);
  joined.on('direct', addMessage);
  joined.on('presence', (frame) => {
    addNotice(`${frame.user_id} ${frame.event === 'join' ? 'joined' : 'left'}`);
    refreshMembers();
  });
  joined.on('members', renderMembers);
  joined.on('error', (frame) => showError(`${frame.message} (${frame.code})`));
  ui.messages.replaceChildren();
  ui.members.replaceChildren();
  setTarget(undefined);
  ui.roomTitle.textContent = `Room ${room}`;
  ui.chat.hidden = false;
  ui.leave.hidden = false;
  ui.text.focus();
});

ui.leave.addEventListener('click', () => {
  leave();
  ui.chat.hidden = true;
  ui.leave.hidden = true;
});

ui.compose.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.text.value;
  if (!client || !text.trim()) return;
  const pending = line('message mine pending', directTo ? `${me} → ${directTo}` : me, 'sending…', text);
  ui.messages.append(pending);
  const sent = directTo ? client.sendDirect(directTo, text) : client.send(text);
  sent
    .catch((error: Error & { code?: string }) => showError(`Not sent: ${error.message} (${error.code})`))
    .finally(() => pending.remove());
  ui.text.value = '';
});

ui.text.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') setTarget(undefined);
});
ui.toRoom.addEventListener('click', () => setTarget(undefined));

async function devToken(user: string): Promise<string> {
  const response = await fetch(`/_local/token?user=${encodeURIComponent(user)}`);
  if (response.status === 404) {
    throw new Error('This server has its own JWT_SECRET: paste a token from `npm run token -- <user>`.');
  }
  if (!response.ok) throw new Error('Names are 1–64 letters, digits or _ . : -');
  return ((await response.json()) as { token: string }).token;
}

function leave(): void {
  client?.close();
  client = undefined;
}

function renderState(change: StateChange, room: string): void {
  ui.status.dataset.state = change.state;
  switch (change.state) {
    case 'connecting':
      ui.status.textContent = ui.status.dataset.opened
        ? `Reconnecting… (attempt ${change.attempt})`
        : 'Connecting…';
      return;
    case 'open':
      // Who the server says we are: the token's `sub`, which a pasted token decides, not the Name field.
      me = client?.userId ?? me;
      ui.status.dataset.opened = 'yes';
      ui.status.textContent = `Connected as ${me} in ${room}`;
      showError('');
      refreshMembers();
      return;
    case 'reconnecting':
      ui.status.textContent = `Reconnecting in ${(change.delayMs / 1000).toFixed(1)} s, attempt ${change.attempt} (${change.reason})`;
      return;
    case 'closed':
      ui.status.textContent = change.reason === 'client' ? 'Not connected' : 'Disconnected';
      if (change.reason !== 'client') showError(`Disconnected: ${change.detail}.`);
  }
}

function addMessage(frame: MessageFrame | DirectFrame): void {
  const from = frame.action === 'message' ? frame.user_id : frame.from_user_id;
  const who = frame.action === 'message' ? from : `${from} → ${frame.to_user_id}`;
  const classes = ['message', from === me ? 'mine' : '', frame.action === 'direct' ? 'direct' : ''];
  const item = line(classes.join(' ').trim(), who, '', frame.message, frame.timestamp);
  item.dataset.id = frame.message_id;
  // The SDK hands messages over in seq order (the room's, or this user's inbox's): appending keeps that order.
  item.dataset.seq = String(frame.seq);
  ui.messages.append(item);
  scrollToEnd();
}

function addNotice(text: string): void {
  const item = document.createElement('li');
  item.className = 'notice';
  item.textContent = text;
  ui.messages.append(item);
  scrollToEnd();
}

function line(className: string, who: string, note: string, text: string, timestamp?: string): HTMLLIElement {
  const item = document.createElement('li');
  item.className = className;
  const from = Object.assign(document.createElement('span'), { className: 'from', textContent: who });
  const meta = Object.assign(document.createElement('span'), { className: 'meta', textContent: note });
  if (timestamp) {
    const time = document.createElement('time');
    time.dateTime = timestamp;
    time.textContent = new Date(timestamp).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    meta.append(time);
  }
  if (className.includes('direct')) meta.append(' · direct');
  const body = Object.assign(document.createElement('p'), { className: 'text', textContent: text });
  item.append(from, meta, body);
  return item;
}

function scrollToEnd(): void {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function refreshMembers(): void {
  client?.members().catch(() => {});
}

function renderMembers(frame: MembersFrame): void {
  ui.members.replaceChildren(
    ...frame.users.map(({ user_id, connections }) => {
      const item = document.createElement('li');
      const label = connections > 1 ? `${user_id} (${connections} connections)` : user_id;
      if (user_id === me) {
        item.textContent = `${label} — you`;
        return item;
      }
      const button = Object.assign(document.createElement('button'), { type: 'button', textContent: label });
      button.dataset.user = user_id;
      button.setAttribute('aria-pressed', String(user_id === directTo));
      button.addEventListener('click', () => setTarget(user_id));
      item.append(button);
      return item;
    }),
  );
}

function setTarget(user: string | undefined): void {
  directTo = user;
  ui.target.hidden = user === undefined;
  ui.targetName.textContent = user ?? '';
  ui.text.placeholder = user ? `Direct message to ${user}` : 'Message';
  for (const button of ui.members.querySelectorAll<HTMLButtonElement>('button[data-user]')) {
    button.setAttribute('aria-pressed', String(button.dataset.user === user));
  }
  ui.text.focus();
}

function showError(text: string): void {
  ui.error.textContent = text;
  ui.error.hidden = !text;
}
