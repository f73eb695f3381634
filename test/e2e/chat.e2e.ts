import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { LocalStack } from '../../src/local/stack.ts';
import { wholeHistory } from '../faults/support.ts';
import { eventually } from '../support/chat.ts';
import {
  connected,
  conversation,
  conversationButton,
  expectNoPageErrors,
  joinedPage,
  joinRoom,
  launchBrowser,
  lines,
  newPage,
  outsider,
  say,
  screenshot,
  sees,
  startStack,
  texts,
} from './support.ts';

/** The demo page in Chromium: people chatting in a room and directly, history, scrolling, reloads. */
let stack: LocalStack;
let browser: Browser;

before(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

/** A page of its own (storage, network) that has joined `room` as `user`. */
const joined = (user: string, room: string) => joinedPage(browser, stack, user, room);

/** Someone outside the browser: a raw WebSocket client with a development token. */
const outsiderOf = (user: string, room: string) => outsider(stack, user, room);

async function storedCount(room: string, count: number) {
  return eventually(
    () => wholeHistory(stack.deps.messages, room),
    (messages) => messages.length === count,
    10_000,
  );
}

describe('demo page in Chromium: chatting', () => {
  it('before joining only the form shows; two people chat; Sign out clears everything', async () => {
    const { page: alice } = await newPage(browser);
    await alice.goto(stack.httpUrl);
    assert.equal(await alice.locator('#chat').isVisible(), false, 'no chat before joining');
    assert.equal(await alice.getByLabel('Message', { exact: true }).isVisible(), false);
    await screenshot(alice, 'chat-1-before-joining');

    await alice.getByRole('textbox', { name: 'Name' }).fill('alice');
    await alice.getByRole('textbox', { name: 'Room' }).fill('lobby');
    await alice.getByRole('button', { name: 'Join' }).click();
    await connected(alice);
    assert.equal(await alice.locator('#join').isVisible(), false, 'no join form once joined');
    assert.equal(await alice.locator('#me').textContent(), 'You are alice');

    const bob = await joined('bob', 'lobby');
    await alice.locator('li.notice').getByText('bob joined').waitFor();
    await alice.locator('#members button[data-user="bob"]').waitFor();

    await say(alice, 'hello bob');
    await say(alice, 'are you there?');
    await sees(bob, 'are you there?');
    await say(bob, 'hi alice');
    await sees(alice, 'hi alice');
    assert.deepEqual(await texts(bob), ['hello bob', 'are you there?', 'hi alice']);
    // Own messages are styled as own; consecutive ones of one sender form one group (one name above them).
    assert.deepEqual(
      await conversation(alice)
        .locator('li[data-id]')
        .evaluateAll((items) => items.map((item) => item.className)),
      ['message mine', 'message mine continued', 'message'],
    );
    assert.equal(await conversation(bob).locator('li.mine').count(), 1);
    await screenshot(alice, 'chat-2-two-people-alice');
    await screenshot(bob, 'chat-2-two-people-bob');

    await alice.getByRole('button', { name: 'Sign out' }).click();
    await alice.locator('#join').waitFor();
    assert.equal(await alice.locator('#chat').isVisible(), false, 'no chat after signing out');
    assert.equal(await alice.locator('#status').textContent(), 'Not connected');
    assert.equal(await alice.locator('ol.messages').count(), 0, 'no messages after signing out');
    assert.equal(await alice.locator('#members li').count(), 0, 'no members after signing out');
    assert.equal(await alice.locator('#rooms li').count(), 0, 'no rooms after signing out');
    assert.equal(await alice.getByRole('textbox', { name: 'Name' }).inputValue(), 'alice', 'the name stays');
    await bob.locator('li.notice').getByText('alice left').waitFor();
    await screenshot(alice, 'chat-3-after-leave');
    expectNoPageErrors(alice);
    expectNoPageErrors(bob);
    await Promise.all([alice.context().close(), bob.context().close()]);
  });

  it('direct messages are their own conversations, with unread counts, never in the room', async () => {
    const alice = await joined('alice', 'dm-room');
    const bob = await joined('bob', 'dm-room');
    const carol = await outsiderOf('carol', 'dm-elsewhere');
    await say(alice, 'room message');
    await sees(bob, 'room message');

    // Bob writes to alice from the member list; alice is looking at the room.
    await bob.locator('#members button[data-user="alice"]').click();
    await bob.locator('#conversation-title').getByText('alice', { exact: true }).waitFor();
    await say(bob, 'psst, alice');
    await sees(bob, 'psst, alice', '@alice');
    await say(bob, 'are you free later?');
    const badge = alice.locator('#conversations button[data-conversation="@bob"] .unread');
    await badge.filter({ hasText: /^2$/ }).waitFor();
    // Someone from another room writes too: a conversation of its own.
    carol.send({ action: 'sendDirect', to_user_id: 'alice', message: 'hello from elsewhere' });
    await alice
      .locator('#conversations button[data-conversation="@carol"] .unread')
      .filter({ hasText: /^1$/ })
      .waitFor();
    await say(alice, 'back in the room');
    await sees(alice, 'back in the room');
    await screenshot(alice, 'dm-1-unread');
    assert.deepEqual(
      await texts(alice),
      ['room message', 'back in the room'],
      'no direct message in the room',
    );

    await alice.locator('#conversations button[data-conversation="@bob"]').click();
    await sees(alice, 'are you free later?', '@bob');
    assert.equal(await badge.count(), 0, 'read once shown');
    assert.deepEqual(await texts(alice, '@bob'), ['psst, alice', 'are you free later?']);
    await say(alice, 'sure');
    await sees(bob, 'sure', '@alice');
    // Bob, still in his conversation with alice, sees no unread count there; the room's did not move.
    assert.equal(await bob.locator('#conversations button[data-conversation="@alice"] .unread').count(), 0);
    assert.deepEqual(await texts(bob, '@alice'), ['psst, alice', 'are you free later?', 'sure']);
    // Inbox order: each conversation lists its messages in this user's inbox seq order.
    const seqs = (await lines(alice, '@bob')).map((line) => Number(line.split(' ')[0]));
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
    );
    await screenshot(alice, 'dm-2-conversation');
    await screenshot(bob, 'dm-2-conversation-bob');

    // After a reload the conversations are back from history, and what was there before counts as read.
    await alice.reload();
    await connected(alice);
    await sees(alice, 'sure', '@bob');
    await sees(alice, 'hello from elsewhere', '@carol');
    await sees(alice, 'back in the room');
    await say(bob, 'one more thing');
    await alice
      .locator('#conversations button[data-conversation="@bob"] .unread')
      .filter({ hasText: /^1$/ })
      .waitFor();
    assert.equal(await alice.locator('#conversations .unread').count(), 1, 'only the new message is unread');
    assert.deepEqual(await texts(alice), ['room message', 'back in the room']);
    await carol.close();
    await Promise.all([alice, bob].map((page) => page.context().close()));
  });

  it('a send that fails keeps the text and says why; the counter stops too long a message', async () => {
    const erin = await joined('erin', 'fail-room');
    const dave = await joined('dave', 'fail-room');
    await erin.locator('#members button[data-user="dave"]').click();
    await dave.context().close();
    await eventually(
      () => stack.deps.connections.roomMembers('fail-room'),
      (members) => members.every((member) => member.user_id !== 'dave'),
      10_000,
    );
    await say(erin, 'are you still there?');
    await erin.locator('#send-error').filter({ hasText: 'dave is not online' }).waitFor();
    assert.equal(await erin.getByLabel('Message', { exact: true }).inputValue(), 'are you still there?');
    assert.equal(await conversation(erin, '@dave').locator('li').count(), 0, 'no pending line left behind');
    await screenshot(erin, 'send-1-recipient-offline');

    await conversationButton(erin, '#fail-room').click();
    const long = 'x'.repeat(4001);
    await erin.getByLabel('Message', { exact: true }).fill(long);
    await erin.locator('#counter').filter({ hasText: '4,001 / 4,000 — 1 too many' }).waitFor();
    await erin.getByLabel('Message', { exact: true }).press('Enter');
    await erin.locator('#send-error').filter({ hasText: 'at most 4,000 characters' }).waitFor();
    assert.equal(await erin.getByLabel('Message', { exact: true }).inputValue(), long, 'the text stays');
    await screenshot(erin, 'send-2-too-long');
    await erin.getByLabel('Message', { exact: true }).press('Backspace');
    assert.equal(await erin.locator('#send-error').isVisible(), false, 'the error goes once it fits');
    await erin.getByLabel('Message', { exact: true }).press('Enter');
    await sees(erin, 'x'.repeat(4000));
    expectNoPageErrors(erin);
    await erin.context().close();
  });

  it('loads older messages page by page, keeping the view; new messages do not yank it', async () => {
    const seeder = await outsiderOf('seeder', 'history');
    for (let i = 1; i <= 130; i++) seeder.send({ action: 'sendMessage', message: `old ${i}` });
    const history = await storedCount('history', 130);
    const expected = history.map((message) => `${message.seq} ${message.message}`);
    // And 60 direct messages to the reader, while the reader is connected elsewhere (they need a recipient).
    const elsewhere = await outsiderOf('reader', 'elsewhere');
    for (let i = 1; i <= 60; i++)
      seeder.send({ action: 'sendDirect', to_user_id: 'reader', message: `dm ${i}` });
    for (let i = 1; i <= 60; i++) await elsewhere.next((frame) => frame.message === `dm ${i}`, 10_000);
    await elsewhere.close();

    const { page } = await newPage(browser);
    await page.setViewportSize({ width: 1100, height: 600 });
    await joinRoom(page, stack.httpUrl, 'reader', 'history');
    await conversation(page).locator('li[data-id]').nth(49).waitFor();
    assert.deepEqual(await lines(page), expected.slice(-50), 'the newest 50 on joining');
    const timeline = page.locator('#timeline');
    assert.equal(await timeline.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 2), true);

    const older = page.getByRole('button', { name: 'Load older messages' });
    await timeline.evaluate((el) => {
      el.scrollTop = 0;
    });
    const firstBefore = conversation(page).locator(`li[data-seq="${history[80]?.seq}"] .text`);
    const yBefore = (await firstBefore.boundingBox())?.y;
    await screenshot(page, 'history-0-load-older-button');
    await older.click();
    await conversation(page).locator('li[data-id]').nth(99).waitFor();
    assert.deepEqual(await lines(page), expected.slice(-100), 'the page before, in front, in seq order');
    const yAfter = (await firstBefore.boundingBox())?.y;
    assert.ok(
      yBefore !== undefined && yAfter !== undefined && Math.abs(yAfter - yBefore) < 2,
      `the view stays: ${yBefore} → ${yAfter}`,
    );
    await screenshot(page, 'history-1-older-loaded');
    await older.click();
    await conversation(page).locator('li[data-id]').nth(129).waitFor();
    assert.deepEqual(await lines(page), expected, 'the whole history');
    await older.waitFor({ state: 'hidden' });

    // Reading older messages: a new one does not move the view, a marker offers to go down.
    const scrolled = await timeline.evaluate((el) => {
      el.scrollTop = 400;
      return el.scrollTop;
    });
    seeder.send({ action: 'sendMessage', message: 'something new' });
    await sees(page, 'something new');
    const marker = page.getByRole('button', { name: 'New messages ↓' });
    await marker.waitFor();
    assert.equal(await timeline.evaluate((el) => el.scrollTop), scrolled, 'the view did not jump');
    await screenshot(page, 'history-2-new-messages-marker');
    await marker.click();
    await marker.waitFor({ state: 'hidden' });
    assert.equal(await timeline.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 2), true);
    // At the bottom it follows new messages.
    seeder.send({ action: 'sendMessage', message: 'and another' });
    await sees(page, 'and another');
    assert.equal(await timeline.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 2), true);
    assert.equal(await marker.isVisible(), false);

    // The direct messages: the newest 50 on joining, the rest on demand; none unread, they were there before.
    const dms = page.locator('#conversations button[data-conversation="@seeder"]');
    assert.equal(await dms.locator('.unread').count(), 0);
    await dms.click();
    assert.equal(await conversation(page, '@seeder').locator('li[data-id]').count(), 50);
    await older.click();
    await conversation(page, '@seeder').locator('li[data-id]').nth(59).waitFor();
    const inbox = await texts(page, '@seeder');
    assert.deepEqual(new Set(inbox), new Set(Array.from({ length: 60 }, (_, i) => `dm ${i + 1}`)));
    const inboxSeqs = (await lines(page, '@seeder')).map((line) => Number(line.split(' ')[0]));
    assert.deepEqual(
      inboxSeqs,
      [...inboxSeqs].sort((a, b) => a - b),
      'in inbox order',
    );
    await older.waitFor({ state: 'hidden' });
    expectNoPageErrors(page);
    await seeder.close();
    await page.context().close();
  });

  it('every tab shows a burst from several senders in the seq order, live and after a reload', async () => {
    const { page: ann, context } = await newPage(browser);
    await joinRoom(ann, stack.httpUrl, 'ann', 'order');
    const ben = await joined('ben', 'order');
    const annAgain = await context.newPage();
    await annAgain.goto(stack.httpUrl);
    // Another tab of the same browser remembers the name and the room.
    assert.equal(await annAgain.getByRole('textbox', { name: 'Name' }).inputValue(), 'ann');
    assert.equal(await annAgain.getByRole('textbox', { name: 'Room' }).inputValue(), 'order');
    await annAgain.getByRole('button', { name: 'Join' }).click();
    await connected(annAgain);
    // Three more senders at once, each firing its frames without waiting: the server stores them concurrently.
    const senders = await Promise.all(['x', 'y', 'z'].map((user) => outsiderOf(user, 'order')));
    try {
      for (const [s, sender] of senders.entries()) {
        for (let i = 0; i < 12; i++) sender.send({ action: 'sendMessage', message: `${'xyz'[s]}${i}` });
      }
      for (let i = 0; i < 4; i++) await say(ann, `ann ${i}`);
      const history = await storedCount('order', 40);
      const expected = history.map((message) => `${message.seq} ${message.message}`);
      for (const page of [ann, ben, annAgain]) {
        await conversation(page).locator('li[data-id]').nth(39).waitFor();
        assert.deepEqual(await lines(page), expected);
      }

      // A reload joins again by itself, with the same history in the same order.
      await ben.reload();
      await connected(ben);
      await conversation(ben).locator('li[data-id]').nth(39).waitFor();
      assert.deepEqual(await lines(ben), expected, 'after a reload: the same messages, the same order');
      assert.equal(await ben.locator('#me').textContent(), 'You are ben');
      await screenshot(ann, 'order-1-ann');
      await screenshot(ben, 'order-2-ben-reloaded');
    } finally {
      await Promise.all(senders.map((sender) => sender.close()));
      await Promise.all([context.close(), ben.context().close()]);
    }
  });
});
