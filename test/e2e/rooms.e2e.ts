import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page, WebSocket } from 'playwright-core';
import { DEV_JWT_SECRET, signDevToken } from '../../src/auth.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import { wholeHistory } from '../faults/support.ts';
import { ChatClient, eventually } from '../support/chat.ts';
import {
  connected,
  conversation,
  conversationButton,
  expectNoPageErrors,
  joinAnotherRoom,
  joinRoom,
  launchBrowser,
  lines,
  newPage,
  onScreen,
  PHONE,
  say,
  screenshot,
  sees,
  startStack,
  texts,
} from './support.ts';

/**
 * The demo page with many rooms on one connection: a list of the rooms joined, each with its own messages,
 * members and unread count; switching rooms opens no new WebSocket; leaving one stops its messages; a reload
 * keeps the rooms and the room shown.
 */
let stack: LocalStack;
let browser: Browser;

before(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

/** Every WebSocket the page opens, and the frames it sent and received on each. */
function recordSockets(page: Page) {
  const sockets: Array<{ socket: WebSocket; sent: string[]; received: string[] }> = [];
  page.on('websocket', (socket) => {
    const record = { socket, sent: [] as string[], received: [] as string[] };
    socket.on('framesent', ({ payload }) => record.sent.push(String(payload)));
    socket.on('framereceived', ({ payload }) => record.received.push(String(payload)));
    sockets.push(record);
  });
  return sockets;
}

/** The frames with this action (and, if given, room) in a list of payloads. */
function framesOf(payloads: string[], action: string, room?: string) {
  return payloads
    .map((payload) => JSON.parse(payload) as { action?: string; room_id?: string; message?: string })
    .filter((frame) => frame.action === action && (room === undefined || frame.room_id === room));
}

/** The rooms in the page's list, in its order. */
function roomList(page: Page): Promise<string[]> {
  return page
    .locator('#rooms button.conversation')
    .evaluateAll((buttons) => buttons.map((button) => button.getAttribute('data-conversation') ?? ''));
}

/** Waits until the page shows this conversation (its title is hidden on phones: attached is enough). */
async function titleIs(page: Page, title: string): Promise<void> {
  await page
    .locator('#conversation-title')
    .filter({ hasText: new RegExp(`^${title}$`) })
    .waitFor({ state: 'attached' });
}

describe('demo page with many rooms on one connection', () => {
  it('unread counts per room, switching without reconnecting, leaving a room, and a reload that keeps them', async () => {
    const { page: amy } = await newPage(browser);
    const sockets = recordSockets(amy);
    await joinRoom(amy, stack.httpUrl, 'amy', 'lobby');
    await joinAnotherRoom(amy, 'random');
    await titleIs(amy, '#random');
    // The members list is the shown room's, answered once the connection holds it.
    await amy.locator('#members-title').filter({ hasText: 'Members of #random' }).waitFor();
    await amy.locator('#members li.self').filter({ hasText: 'amy (you)' }).waitFor();
    assert.deepEqual(await roomList(amy), ['#lobby', '#random']);
    await conversationButton(amy, '#lobby').click();
    await titleIs(amy, '#lobby');

    const { page: ben } = await newPage(browser);
    await joinRoom(ben, stack.httpUrl, 'ben', 'random');
    await joinAnotherRoom(ben, 'lobby');
    await conversationButton(ben, '#random').click();
    await say(ben, 'hello random');

    // Amy shows the lobby: the message waits in random, counted unread there only.
    const randomButton = conversationButton(amy, '#random');
    await randomButton.locator('.unread').filter({ hasText: /^1$/ }).waitFor();
    assert.equal(await randomButton.getAttribute('aria-label'), '#random, 1 unread');
    assert.equal(await conversationButton(amy, '#lobby').locator('.unread').count(), 0);
    await sees(amy, 'hello random', '#random');
    assert.equal(await conversation(amy, '#random').isVisible(), false, 'random is not shown');
    assert.deepEqual(await texts(amy, '#lobby'), [], 'nothing of random in the lobby');
    assert.equal(await amy.title(), '(1) roomcast — chat');
    await screenshot(amy, 'rooms-1-unread');

    await randomButton.click();
    await titleIs(amy, '#random');
    await conversation(amy, '#random').getByText('hello random', { exact: true }).waitFor();
    assert.equal(await randomButton.locator('.unread').count(), 0, 'read once shown');
    assert.equal(await randomButton.getAttribute('aria-label'), null);
    assert.equal(await randomButton.getAttribute('aria-current'), 'true');
    assert.equal(await amy.title(), 'roomcast — chat');
    // Something that goes over the connection after the switch: a new WebSocket would have opened before it.
    await say(amy, 'hi ben');
    await sees(ben, 'hi ben', '#random');
    assert.equal(sockets.length, 1, 'one WebSocket: switching rooms does not reconnect');
    const [first] = sockets;
    assert.ok(first && !first.socket.isClosed());
    assert.deepEqual(
      framesOf(first.sent, 'subscribe').map((frame) => frame.room_id),
      ['lobby', 'random'],
      'both rooms subscribed on that one connection, once each',
    );

    // Several senders at once into random: amy's page lists them in the seq order the server stored.
    const zed = await ChatClient.connect(stack, 'zed', 'random', '', { secret: DEV_JWT_SECRET });
    for (let i = 1; i <= 6; i++) zed.send({ action: 'sendMessage', message: `zed ${i}` });
    for (let i = 1; i <= 3; i++) await say(ben, `ben ${i}`);
    const stored = await eventually(
      () => wholeHistory(stack.deps.messages, 'random'),
      (messages) => messages.length === 11,
      10_000,
    );
    const expected = stored.map((message) => `${message.seq} ${message.message}`);
    await conversation(amy, '#random').locator('li[data-id]').nth(10).waitFor();
    assert.deepEqual(await lines(amy, '#random'), expected, 'each message once, in seq order');
    await zed.close();

    // A direct message comes once per connection, whatever rooms it holds.
    await ben.locator('#members button[data-user="amy"]').click();
    await say(ben, 'just to you');
    await conversationButton(amy, '@ben').locator('.unread').filter({ hasText: /^1$/ }).waitFor();
    assert.deepEqual(await texts(amy, '@ben'), ['just to you']);
    assert.equal(framesOf(first.received, 'direct').length, 1, 'one direct frame on the connection');

    // The lobby gets a message while amy shows random.
    await conversationButton(ben, '#lobby').click();
    await say(ben, 'old lobby news');
    await conversationButton(amy, '#lobby').locator('.unread').filter({ hasText: /^1$/ }).waitFor();
    await screenshot(amy, 'rooms-2-switched');

    // A reload: the same rooms in the same order, random still shown, on one new connection.
    await amy.reload();
    await connected(amy);
    await titleIs(amy, '#random');
    assert.deepEqual(await roomList(amy), ['#lobby', '#random']);
    await sees(amy, 'old lobby news', '#lobby');
    await conversation(amy, '#random').locator('li[data-id]').nth(10).waitFor();
    assert.deepEqual(await lines(amy, '#random'), expected, 'the history back, in seq order');
    assert.equal(
      await amy.locator('#rooms .unread').count(),
      0,
      'what was there before the reload is not unread',
    );
    assert.equal(sockets.length, 2, 'one WebSocket per page load');
    await say(ben, 'lobby after the reload');
    await conversationButton(amy, '#lobby').locator('.unread').filter({ hasText: /^1$/ }).waitFor();
    await sees(amy, 'lobby after the reload', '#lobby');
    await screenshot(amy, 'rooms-3-after-reload');

    // Leaving random: it goes from the list, the lobby is shown, the connection stays.
    const inRandom = async () =>
      (await stack.deps.connections.roomMembers('random')).some((member) => member.user_id === 'amy');
    assert.equal(await inRandom(), true, 'the server has amy in random');
    await amy.getByRole('button', { name: 'Leave #random' }).click();
    await randomButton.waitFor({ state: 'detached' });
    assert.equal(await conversation(amy, '#random').count(), 0, 'its messages go with it');
    await titleIs(amy, '#lobby');
    assert.equal(await conversationButton(amy, '#lobby').locator('.unread').count(), 0, 'read once shown');
    await eventually(inRandom, (held) => !held, 10_000);
    assert.equal(sockets.length, 2, 'leaving a room does not reconnect');
    // Ben writes to random, then to the lobby: once amy sees the second, the first would have come before it.
    await conversationButton(ben, '#random').click();
    await say(ben, 'after amy left');
    await sees(ben, 'after amy left', '#random');
    await conversationButton(ben, '#lobby').click();
    await say(ben, 'sentinel in the lobby');
    await sees(amy, 'sentinel in the lobby', '#lobby');
    assert.equal(await amy.getByText('after amy left').count(), 0, 'nothing of the room left');
    assert.equal(await randomButton.count(), 0, 'random does not come back');
    // (The direct message came before the reload: not unread any more either.)
    assert.equal(await amy.locator('#conversations .unread').count(), 0, 'nothing unread');
    assert.equal(
      framesOf(sockets[1]?.received ?? [], 'message', 'random').some(
        (frame) => frame.message === 'after amy left',
      ),
      false,
      'the server sent it no more of random',
    );
    await screenshot(amy, 'rooms-4-left-random');

    // A reload keeps it left.
    await amy.reload();
    await connected(amy);
    await sees(amy, 'sentinel in the lobby', '#lobby');
    assert.deepEqual(await roomList(amy), ['#lobby']);
    expectNoPageErrors(amy);
    expectNoPageErrors(ben);
    await Promise.all([amy.context().close(), ben.context().close()]);
  });

  it('on a phone: rooms are tabs with unread counts, + joins one, the shown room has its Leave button', async () => {
    const context = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const sockets = recordSockets(page);
    await joinRoom(page, stack.httpUrl, 'pia', 'tea');
    const field = page.getByRole('textbox', { name: 'Room to join' });
    assert.equal(await field.isVisible(), false, 'the room field is behind +');
    await page.getByRole('button', { name: 'Join a room' }).click();
    await field.waitFor();
    await screenshot(page, 'rooms-5-phone-join');
    await field.fill('news');
    await field.press('Enter');
    await titleIs(page, '#news');
    await field.waitFor({ state: 'hidden' });
    await page
      .locator('#members-title')
      .filter({ hasText: 'Members of #news' })
      .waitFor({ state: 'attached' });

    const quinn = await ChatClient.connect(stack, 'quinn', 'tea', '', { secret: DEV_JWT_SECRET });
    quinn.send({ action: 'sendMessage', message: 'tea time?' });
    const teaTab = conversationButton(page, '#tea');
    await teaTab.locator('.unread').filter({ hasText: /^1$/ }).waitFor();
    await say(page, 'hi from news');
    await sees(page, 'hi from news', '#news');
    assert.ok(await onScreen(page, teaTab), 'the tab with its count in view');
    assert.ok(await onScreen(page, page.getByLabel('Message', { exact: true })), 'the message box in view');
    const leaveNews = page.getByRole('button', { name: 'Leave #news' });
    assert.ok(await onScreen(page, leaveNews));
    assert.ok(
      await leaveNews.evaluate((button) => {
        const box = button.getBoundingClientRect();
        return (
          button.ownerDocument.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2) === button
        );
      }),
      'nothing covers it (the + stays at the end of the row)',
    );
    assert.equal(
      await page.getByRole('button', { name: 'Leave #tea' }).isVisible(),
      false,
      'only the shown room has its Leave button',
    );
    assert.equal(
      await page.locator('html').evaluate((html) => html.scrollHeight <= html.clientHeight),
      true,
      'the page itself does not scroll',
    );
    await screenshot(page, 'rooms-6-phone-unread');

    await teaTab.click();
    await conversation(page, '#tea').getByText('tea time?').waitFor();
    assert.equal(await teaTab.locator('.unread').count(), 0);
    await page.getByRole('button', { name: 'Leave #tea' }).click();
    await teaTab.waitFor({ state: 'detached' });
    await titleIs(page, '#news');
    assert.deepEqual(await roomList(page), ['#news']);
    await screenshot(page, 'rooms-7-phone-left');

    // The last room left: the page offers to join one, on the same connection.
    await page.getByRole('button', { name: 'Leave #news' }).click();
    await page.getByText('You are not in any room. Join one to start chatting.').waitFor();
    assert.equal(await field.isVisible(), true, 'the room field is offered');
    assert.equal(await page.getByLabel('Message', { exact: true }).isVisible(), false, 'nowhere to write');
    assert.deepEqual(await roomList(page), []);
    await screenshot(page, 'rooms-8-phone-no-room');
    await field.fill('tea');
    await field.press('Enter');
    await titleIs(page, '#tea');
    await conversation(page, '#tea').getByText('tea time?').waitFor();
    assert.equal(await teaTab.locator('.unread').count(), 0, 'its history is not unread');
    assert.equal(sockets.length, 1, 'one WebSocket all along');
    expectNoPageErrors(page);
    await quinn.close();
    await context.close();
  });

  it('a room the token does not allow is refused on its own: the others stay', async () => {
    const { page } = await newPage(browser);
    await page.goto(stack.httpUrl);
    await page.locator('#settings summary').click();
    const token = await signDevToken(DEV_JWT_SECRET, 'val', { rooms: ['open-room'] });
    await page.getByRole('textbox', { name: 'Token' }).fill(token);
    await page.getByRole('textbox', { name: 'Room' }).fill('open-room');
    await page.getByRole('button', { name: 'Join' }).click();
    await connected(page);
    const field = page.getByRole('textbox', { name: 'Room to join' });
    await field.fill('closed-room');
    await field.press('Enter');
    await page
      .locator('#error')
      .filter({ hasText: 'Your token does not let you into the room “closed-room”.' })
      .waitFor();
    await conversationButton(page, '#closed-room').waitFor({ state: 'detached' });
    assert.deepEqual(await roomList(page), ['#open-room']);
    await titleIs(page, '#open-room');
    await say(page, 'still here');
    await sees(page, 'still here', '#open-room');
    await screenshot(page, 'rooms-9-refused');
    expectNoPageErrors(page);
    await page.context().close();
  });
});
