import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AdminClient } from '@roomcast/admin';
import type { Browser, Page } from 'playwright-core';
import type { LocalStack } from '../../src/local/stack.ts';
import { adminClientFor } from '../support/chat.ts';
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
  onScreen,
  outsider,
  PHONE,
  say,
  screenshot,
  sees,
  startStack,
  texts,
} from './support.ts';

/**
 * The demo page in Chromium: system messages (published by operators through the admin function) are
 * announcements, told apart by their `system` mark, never by their sender's name: a real user named "ops" stays a
 * user, and the announcements of "ops" cannot be answered.
 */
let stack: LocalStack;
let browser: Browser;
let admin: AdminClient;

before(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
  admin = adminClientFor(stack);
});

after(async () => {
  admin?.destroy();
  await browser?.close();
  await stack?.close();
});

/** A page of its own (storage, network) that has joined `room` as `user`. */
const joined = (user: string, room: string) => joinedPage(browser, stack, user, room);

/** Someone outside the browser: a raw WebSocket client with a development token. */
const outsiderOf = (user: string, room: string) => outsider(stack, user, room);

/** A system message to a room, or to one user's inbox, under a sender name. */
async function announce(to: { room_id: string } | { to_user_id: string }, message: string, sender = 'ops') {
  const result = await admin.publish({ ...to, message, sender });
  assert.equal(result.ok, true);
}

function classesOf(page: Page, key?: string): Promise<string[]> {
  return conversation(page, key)
    .locator('li[data-id]')
    .evaluateAll((items) => items.map((item) => item.className));
}

const MAINTENANCE = 'Maintenance at 22:00. <b>Save your work</b>';

describe('demo page in Chromium: announcements', () => {
  it('a room announcement is listed in seq order as a card of its own: never mine, never grouped', async () => {
    const dana = await joined('dana', 'news');
    // A real user whose id is the name the announcements go out under.
    const ops = await outsiderOf('ops', 'news');
    await say(dana, 'good evening');
    await sees(dana, 'good evening');
    ops.send({ action: 'sendMessage', message: 'ops here, a person' });
    await sees(dana, 'ops here, a person');
    await announce({ room_id: 'news' }, MAINTENANCE);
    await sees(dana, MAINTENANCE);
    ops.send({ action: 'sendMessage', message: 'thanks for the heads-up' });
    await sees(dana, 'thanks for the heads-up');
    await say(dana, 'noted');
    await sees(dana, 'noted');
    // Under the reader's own id: still the system's, not the reader's.
    await announce({ room_id: 'news' }, 'Welcome back, dana', 'dana');
    await sees(dana, 'Welcome back, dana');

    const listed = await lines(dana);
    const seqs = listed.map((line) => Number(line.split(' ')[0]));
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'in seq order',
    );
    assert.deepEqual(await texts(dana), [
      'good evening',
      'ops here, a person',
      MAINTENANCE,
      'thanks for the heads-up',
      'noted',
      'Welcome back, dana',
    ]);
    // The person "ops" on either side of the announcement of "ops": three groups, not one.
    assert.deepEqual(await classesOf(dana), [
      'message mine',
      'message',
      'message system',
      'message',
      'message mine',
      'message system',
    ]);
    const announcements = conversation(dana).locator('li.system');
    assert.deepEqual(await announcements.locator('.from').allTextContents(), ['ops', 'dana']);
    // The label is on screen, and a screen reader reads it with the sender and the text.
    assert.ok(await announcements.locator('.tag').first().isVisible());
    assert.match(await announcements.first().ariaSnapshot(), /- text: ops Announcement\n/);
    assert.match(await announcements.last().ariaSnapshot(), /- text: dana Announcement\n/);
    assert.equal(await announcements.locator('b').count(), 0, 'the text is text, not HTML');
    // A card across the middle of the conversation, not a bubble on one side.
    const card = await announcements.first().boundingBox();
    const list = await conversation(dana).boundingBox();
    assert.ok(card && list, 'both laid out');
    assert.ok(
      Math.abs(card.x + card.width / 2 - (list.x + list.width / 2)) < 2,
      `centered: ${JSON.stringify({ card, list })}`,
    );
    await screenshot(dana, 'announce-1-room');
    expectNoPageErrors(dana);
    await ops.close();
    await dana.context().close();
  });

  it('system direct messages have a read-only conversation of their own, apart from the user of that name', async () => {
    const erik = await joined('erik', 'desk');
    const ops = await outsiderOf('ops', 'desk');
    ops.send({ action: 'sendDirect', to_user_id: 'erik', message: 'a word from ops, the person' });
    await sees(erik, 'a word from ops, the person', '@ops');
    await announce({ to_user_id: 'erik' }, 'Your account moves to the new cluster tonight');
    await announce({ to_user_id: 'erik' }, 'The move is done');
    await sees(erik, 'The move is done', '!ops');

    // Unread, each in its own conversation, told apart by name.
    const announcements = erik.getByRole('button', { name: 'ops, system announcements, 2 unread' });
    await announcements.waitFor();
    await erik.getByRole('button', { name: 'ops, 1 unread', exact: true }).waitFor();
    assert.equal(await erik.title(), '(3) roomcast — chat');
    assert.equal(await conversationButton(erik, '!ops').locator('.tag').textContent(), 'system');
    assert.deepEqual(await texts(erik, '@ops'), ['a word from ops, the person']);
    assert.deepEqual(await texts(erik, '!ops'), [
      'Your account moves to the new cluster tonight',
      'The move is done',
    ]);
    assert.deepEqual(await classesOf(erik, '!ops'), ['message system', 'message system']);
    assert.equal(await conversation(erik, '@ops').locator('li.system').count(), 0);
    await screenshot(erik, 'announce-2-direct-unread');

    await announcements.click();
    await erik.locator('#conversation-hint').getByText('system announcements').waitFor();
    assert.equal(await conversationButton(erik, '!ops').locator('.unread').count(), 0, 'read once shown');
    // No composer: an answer could only go to the person "ops".
    assert.equal(await erik.getByLabel('Message', { exact: true }).isVisible(), false);
    assert.equal(await erik.getByRole('button', { name: 'Send' }).isVisible(), false);
    assert.ok(
      await erik.getByText('System announcements cannot be answered.').isVisible(),
      'says why there is no composer',
    );
    await screenshot(erik, 'announce-3-direct-read-only');

    // The person "ops" is answered as ever, and only they get it.
    await conversationButton(erik, '@ops').click();
    await say(erik, 'hello ops');
    await sees(erik, 'hello ops', '@ops');
    await ops.next((frame) => frame.action === 'direct' && frame.message === 'hello ops');
    assert.deepEqual(await texts(erik, '!ops'), [
      'Your account moves to the new cluster tonight',
      'The move is done',
    ]);
    await screenshot(erik, 'announce-4-direct-person');

    // After a reload both come back from history, apart; only a new announcement is unread.
    await erik.reload();
    await connected(erik);
    await sees(erik, 'The move is done', '!ops');
    await sees(erik, 'hello ops', '@ops');
    await announce({ to_user_id: 'erik' }, 'One more thing');
    await erik.getByRole('button', { name: 'ops, system announcements, 1 unread' }).waitFor();
    assert.equal(await erik.locator('#conversations .unread').count(), 1, 'only the new one is unread');
    assert.deepEqual(await texts(erik, '@ops'), ['a word from ops, the person', 'hello ops']);
    expectNoPageErrors(erik);
    await ops.close();
    await erik.context().close();
  });

  it('older system direct messages load into their own conversation, not the one with the user of that name', async () => {
    const early = ['Welcome to the chat', 'Please read the rules', 'Have fun'];
    for (const message of early) await announce({ to_user_id: 'fay' }, message);
    // Then more direct messages from the person "ops" than the page lists on joining (they need a recipient).
    const ops = await outsiderOf('ops', 'elsewhere');
    const elsewhere = await outsiderOf('fay', 'elsewhere');
    const later = Array.from({ length: 52 }, (_, i) => `from ops ${i + 1}`);
    for (const message of later) ops.send({ action: 'sendDirect', to_user_id: 'fay', message });
    for (const message of later) await elsewhere.next((frame) => frame.message === message, 10_000);
    await elsewhere.close();

    const fay = await joined('fay', 'hall');
    await conversation(fay, '@ops').locator('li[data-id]').nth(49).waitFor({ state: 'attached' });
    await conversationButton(fay, '@ops').click();
    await fay.getByRole('button', { name: 'Load older messages' }).click();
    await conversation(fay, '!ops').locator('li[data-id]').nth(2).waitFor({ state: 'attached' });
    await conversation(fay, '@ops').locator('li[data-id]').nth(51).waitFor();
    // Sent without waiting, they are stored in whatever order the server took them.
    assert.deepEqual(new Set(await texts(fay, '@ops')), new Set(later));
    assert.deepEqual(await texts(fay, '!ops'), early);
    // Paged in, not arrived: nothing unread.
    assert.equal(await conversationButton(fay, '!ops').locator('.unread').count(), 0);
    await fay.getByRole('button', { name: 'Load older messages' }).waitFor({ state: 'hidden' });
    expectNoPageErrors(fay);
    await ops.close();
    await fay.context().close();
  });

  it('on a phone an announcement fits the width, and the announcements tab says what it is', async () => {
    const { page: gus, context } = await newPage(browser, PHONE, { isMobile: true, hasTouch: true });
    await joinRoom(gus, stack.httpUrl, 'gus', 'mobile');
    const ops = await outsiderOf('ops', 'mobile');
    ops.send({ action: 'sendMessage', message: 'evening all' });
    await sees(gus, 'evening all');
    const long =
      'The database moves tonight: https://status.example.com/incidents/2025-11-30-database-cluster-migration-window has the details';
    await announce({ room_id: 'mobile' }, long);
    await sees(gus, long);
    await say(gus, 'thanks');
    await sees(gus, 'thanks');
    ops.send({ action: 'sendDirect', to_user_id: 'gus', message: 'ping me if anything breaks' });
    await announce({ to_user_id: 'gus' }, 'Your session ends in 10 minutes');
    await gus.getByRole('button', { name: 'ops, system announcements, 1 unread' }).waitFor();
    await gus.getByRole('button', { name: 'ops, 1 unread', exact: true }).waitFor();

    const card = conversation(gus).locator('li.system');
    assert.ok(await onScreen(gus, card), 'the whole card in view');
    assert.equal(
      await gus.locator('#timeline').evaluate((el) => el.scrollWidth <= el.clientWidth),
      true,
      'nothing wider than the screen',
    );
    await screenshot(gus, 'announce-5-phone-room');

    await gus.getByRole('button', { name: 'ops, system announcements, 1 unread' }).click();
    const readOnly = gus.getByText('System announcements cannot be answered.');
    await readOnly.waitFor();
    assert.ok(await onScreen(gus, readOnly), 'the line in place of the composer, in view');
    assert.equal(await gus.getByLabel('Message', { exact: true }).isVisible(), false);
    assert.ok(await onScreen(gus, conversationButton(gus, '!ops')), 'its tab in view');
    await screenshot(gus, 'announce-6-phone-read-only');
    expectNoPageErrors(gus);
    await ops.close();
    await context.close();
  });
});
