/**
 * What the page remembers. Name, room and server stay in localStorage (every tab, across visits); a pasted token,
 * whether this tab was signed in, the rooms it holds and the room it shows stay in sessionStorage (this tab only,
 * across reloads): a token is a credential, and is not kept past the tab. `?server=` (or `?url=`) and `?token=` in the address fill them in,
 * so a link can point the page at a deployed API.
 */
export interface Settings {
  user: string;
  room: string;
  /** A ws:// or wss:// URL; empty: the stack that served the page. */
  server: string;
  token: string;
}

const KEYS = { user: 'roomcast.user', room: 'roomcast.room', server: 'roomcast.server' } as const;
const TOKEN_KEY = 'roomcast.token';
const JOINED_KEY = 'roomcast.joined';
const ROOMS_KEY = 'roomcast.rooms';
const ROOM_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The rooms this tab holds, in the order joined, and the one it shows. */
export interface JoinedRooms {
  rooms: string[];
  shown: string | undefined;
}

/** The remembered settings, with the address's query string taking precedence; the token leaves the address. */
export function loadSettings(): Settings & { fromQuery: boolean } {
  const query = new URLSearchParams(location.search);
  const server = query.get('server') ?? query.get('url');
  const token = query.get('token');
  if (token !== null) {
    // Out of the address bar, the history and any link copied from it.
    query.delete('token');
    const rest = query.toString();
    history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
  }
  return {
    user: read(localStorage, KEYS.user) ?? 'alice',
    room: read(localStorage, KEYS.room) ?? 'lobby',
    server: server ?? read(localStorage, KEYS.server) ?? '',
    token: token ?? read(sessionStorage, TOKEN_KEY) ?? '',
    fromQuery: server !== null || token !== null,
  };
}

export function saveSettings(settings: Settings): void {
  write(localStorage, KEYS.user, settings.user);
  write(localStorage, KEYS.room, settings.room);
  write(localStorage, KEYS.server, settings.server);
  write(sessionStorage, TOKEN_KEY, settings.token);
}

/** Whether this tab was in a room when it was reloaded: it joins again by itself. */
export function wasJoined(): boolean {
  return read(sessionStorage, JOINED_KEY) === 'yes';
}

export function rememberJoined(joined: boolean): void {
  write(sessionStorage, JOINED_KEY, joined ? 'yes' : '');
}

/** The rooms this tab held when it was reloaded (none held is an empty list); undefined: nothing remembered. */
export function loadJoinedRooms(): JoinedRooms | undefined {
  const text = read(sessionStorage, ROOMS_KEY);
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as { rooms?: unknown; shown?: unknown };
    if (!Array.isArray(value.rooms)) return undefined;
    const rooms = [...new Set(value.rooms.filter((room): room is string => isRoomName(room)))];
    const shown = isRoomName(value.shown) && rooms.includes(value.shown) ? value.shown : undefined;
    return { rooms, shown };
  } catch {
    return undefined;
  }
}

/** Remembers the rooms held and the room shown; undefined forgets them (signed out). */
export function saveJoinedRooms(joined: JoinedRooms | undefined): void {
  write(sessionStorage, ROOMS_KEY, joined ? JSON.stringify(joined) : '');
}

function isRoomName(value: unknown): value is string {
  return typeof value === 'string' && ROOM_PATTERN.test(value);
}

/**
 * The WebSocket URL typed in, or an error for people. An https:// or http:// address is taken as the wss:// or
 * ws:// one (the URL API Gateway prints is wss://, but people paste what a browser showed them).
 */
export function parseServer(text: string): { url: string } | { error: string } {
  const value = text.trim().replace(/^http(s?):\/\//i, 'ws$1://');
  if (!/^wss?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/i.test(value)) {
    return {
      error:
        'The server address should look like wss://abc123.execute-api.eu-west-1.amazonaws.com/prod (no ?… part).',
    };
  }
  return { url: value.replace(/\/$/, '') };
}

function read(storage: Storage, key: string): string | undefined {
  try {
    return storage.getItem(key) ?? undefined;
  } catch {
    // Storage can be off (privacy settings): the page still works, it just forgets.
    return undefined;
  }
}

function write(storage: Storage, key: string, value: string): void {
  try {
    if (value) storage.setItem(key, value);
    else storage.removeItem(key);
  } catch {
    // As above.
  }
}
