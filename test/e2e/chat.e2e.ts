import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrowserContext, type CDPSession, chromium, type Page } from 'playwright-core';
import { DEV_JWT_SECRET, signDevToken } from '../../src/auth.ts';
import { type LocalStack, startLocalStack } from '../../src/local/stack.ts';
import { dropConnection } from '../client/support.ts';
import { wholeHistory } from '../faults/support.ts';
import { ChatClient, eventually } from '../support/chat.ts';

const ARTIFACTS = join(import.meta.dirname, 'artifacts');
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let stack: LocalStack;
let browser: BrowserContext;
let profile: string;

/** Opens the demo page and joins `room` as `user` with a development token. */
async function joinAs(user: string, room: string): Promise<Page> {
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(stack.httpUrl);
  await page.getByRole('textbox', { name: 'Name' }).fill(user);
  await page.getByRole('textbox', { name: 'Room' }).fill(room);
  await page.getByRole('button', { name: 'Join' }).click();
  await page
    .getByRole('status')
    .filter({ hasText: `Connected as ${user} in ${room}` })
    .waitFor();
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  const input = page.getByLabel('Message', { exact: true });
  await input.fill(text);
  await input.press('Enter');
}

/** Waits until the page lists a stored message (not a pending one) with this text. */
async function sees(page: Page, text: string): Promise<void> {
  await page.locator('#messages li[data-id] .text').getByText(text, { exact: true }).waitFor();
}

/** The room messages a page lists, in its order, as `seq text`. */
async function roomLines(page: Page): Promise<string[]> {
  return page
    .locator('#messages li[data-seq]:not(.direct)')
    .evaluateAll((items) =>
      items.map(
        (item) => `${item.getAttribute('data-seq')} ${item.querySelector('.text')?.textContent ?? ''}`,
      ),
    );
}

async function listed(page: Page): Promise<{ texts: string[]; ids: string[] }> {
  return page.locator('#messages li[data-id]').evaluateAll((items) => ({
    texts: items.map((item) => item.querySelector('.text')?.textContent ?? ''),
    ids: items.map((item) => item.getAttribute('data-id') ?? ''),
  }));
}

const sessions = new Map<Page, CDPSession>();

/** Cuts one page off the network (new handshakes fail), like a laptop losing its Wi-Fi. */
async function setOffline(page: Page, offline: boolean): Promise<void> {
  let cdp = sessions.get(page);
  if (!cdp) {
    cdp = await browser.newCDPSession(page);
    sessions.set(page, cdp);
    await cdp.send('Network.enable');
  }
  await cdp.send('Network.emulateNetworkConditions', {
    offline,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1,
  });
}

before(async () => {
  stack = await startLocalStack({ port: 0, env: { LOG_LEVEL: 'SILENT' } });
  profile = await mkdtemp(join(tmpdir(), 'roomcast-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  await mkdir(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await stack?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

describe('demo page in Chromium', () => {
  let alice: Page;
  let bob: Page;
  let carol: Page;

  it('two pages in one room chat both ways and send direct messages; another room sees nothing', async () => {
    alice = await joinAs('alice', 'lobby');
    bob = await joinAs('bob', 'lobby');
    carol = await joinAs('carol', 'elsewhere');
    await alice.locator('#messages .notice').getByText('bob joined').waitFor();

    await say(alice, 'hello bob');
    await sees(bob, 'hello bob');
    await say(bob, 'hi alice');
    await sees(alice, 'hi alice');

    await alice.getByRole('button', { name: 'bob', exact: true }).click();
    await alice.getByText('Direct message to bob').waitFor();
    await say(alice, 'psst, bob');
    await sees(bob, 'psst, bob');
    assert.equal(await bob.locator('#messages li.direct .text').textContent(), 'psst, bob');
    await alice.getByLabel('Message', { exact: true }).press('Escape');
    assert.equal(await alice.locator('#target').isHidden(), true);

    await say(carol, 'anyone?');
    await sees(carol, 'anyone?');
    assert.deepEqual((await listed(carol)).texts, ['anyone?']);
    assert.deepEqual((await listed(bob)).texts, ['hello bob', 'hi alice', 'psst, bob']);
  });

  it('a page whose connection the server drops reconnects and shows what it missed, once each', async () => {
    const [record, ...others] = (await stack.deps.connections.roomMembers('lobby')).filter(
      (m) => m.user_id === 'alice',
    );
    assert.ok(record && others.length === 0, 'alice has one connection');

    await setOffline(alice, true);
    await dropConnection(stack, record.connection_id);
    await alice.getByRole('status').filter({ hasText: 'Reconnecting' }).waitFor();

    const missed = ['while you were away 1', 'while you were away 2', 'while you were away 3'];
    for (const text of missed) {
      await say(bob, text);
      await sees(bob, text);
    }
    await alice.screenshot({ path: join(ARTIFACTS, 'chat-reconnecting.png') });
    await setOffline(alice, false);
    await alice.getByRole('status').filter({ hasText: 'Connected as alice in lobby' }).waitFor();
    await say(bob, 'welcome back');
    await sees(alice, 'welcome back');

    const { texts, ids } = await listed(alice);
    assert.deepEqual(texts, ['hello bob', 'hi alice', 'psst, bob', ...missed, 'welcome back']);
    assert.equal(new Set(ids).size, ids.length, 'no message is listed twice');
    assert.notEqual(
      (await stack.deps.connections.roomMembers('lobby')).find((m) => m.user_id === 'alice')?.connection_id,
      record.connection_id,
    );

    await alice.screenshot({ path: join(ARTIFACTS, 'chat-alice.png') });
    await bob.screenshot({ path: join(ARTIFACTS, 'chat-bob.png') });
  });

  it('every tab shows a burst from several senders in one order, the seq order, live and after a reload', async () => {
    const ann = await joinAs('ann', 'order');
    const ben = await joinAs('ben', 'order');
    const annAgain = await joinAs('ann', 'order');
    // Three more senders at once, each firing its frames without waiting: the server stores them concurrently.
    const senders = await Promise.all(
      ['x', 'y', 'z'].map((user) => ChatClient.connect(stack, user, 'order', '', { secret: DEV_JWT_SECRET })),
    );
    try {
      for (const [s, sender] of senders.entries()) {
        for (let i = 0; i < 12; i++) sender.send({ action: 'sendMessage', message: `${'xyz'[s]}${i}` });
      }
      for (let i = 0; i < 4; i++) await say(ann, `ann ${i}`);
      const history = await eventually(
        () => wholeHistory(stack.deps.messages, 'order'),
        (messages) => messages.length === 40,
      );
      const expected = history.map((message) => `${message.seq} ${message.message}`);
      for (const page of [ann, ben, annAgain]) {
        await page.locator('#messages li[data-seq]:not(.direct)').nth(39).waitFor();
        assert.deepEqual(await roomLines(page), expected);
      }

      await ben.reload();
      await ben.getByRole('textbox', { name: 'Name' }).fill('ben');
      await ben.getByRole('textbox', { name: 'Room' }).fill('order');
      await ben.getByRole('button', { name: 'Join' }).click();
      await ben.locator('#messages li[data-seq]:not(.direct)').nth(39).waitFor();
      assert.deepEqual(await roomLines(ben), expected, 'after a reload: the newest 50, the same order');
      await ann.screenshot({ path: join(ARTIFACTS, 'chat-order-ann.png') });
      await ben.screenshot({ path: join(ARTIFACTS, 'chat-order-ben-reloaded.png') });
    } finally {
      await Promise.all(senders.map((sender) => sender.close()));
    }
  });
});

describe('demo page pointed at another server, as the deploy walkthrough does', () => {
  const secret = 'walkthrough-deployed-secret-0123456789abcdef';
  let deployed: LocalStack;

  before(async () => {
    // A second stack with its own secret stands in for the deployed API: the page is served by the first one.
    deployed = await startLocalStack({
      port: 0,
      stage: 'prod',
      env: { LOG_LEVEL: 'SILENT', JWT_SECRET: secret },
    });
  });
  after(() => deployed?.close());

  /** Opens the page with `?server=`, pastes a token for `user` signed with the other server's secret, joins. */
  async function joinDeployed(user: string, room: string): Promise<Page> {
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${stack.httpUrl}?server=${encodeURIComponent(deployed.wsUrl)}`);
    assert.equal(await page.getByRole('textbox', { name: 'Server' }).inputValue(), deployed.wsUrl);
    await page.getByRole('textbox', { name: 'Room' }).fill(room);
    await page.getByRole('textbox', { name: 'Token' }).fill(await signDevToken(secret, user));
    await page.getByRole('button', { name: 'Join' }).click();
    // The name comes from the token, whatever the Name field says.
    await page
      .getByRole('status')
      .filter({ hasText: `Connected as ${user} in ${room}` })
      .waitFor();
    return page;
  }

  it('joins with pasted tokens and chats; without a token it says what to do', async () => {
    const lonely = await browser.newPage();
    await lonely.goto(`${stack.httpUrl}?server=${encodeURIComponent(deployed.wsUrl)}`);
    await lonely.getByRole('button', { name: 'Join' }).click();
    await lonely.getByRole('alert').filter({ hasText: 'needs a token signed with its secret' }).waitFor();
    await lonely.close();

    const alice = await joinDeployed('alice', 'walkthrough');
    const bob = await joinDeployed('bob', 'walkthrough');
    await say(alice, 'hello from the deployed stack');
    await sees(bob, 'hello from the deployed stack');
    assert.equal(await bob.locator('#messages li.mine').count(), 0);
    assert.equal(await alice.locator('#messages li.mine').count(), 1);
    assert.equal((await deployed.deps.connections.roomMembers('walkthrough')).length, 2);
    assert.equal((await stack.deps.connections.roomMembers('walkthrough')).length, 0);
    await alice.screenshot({ path: join(ARTIFACTS, 'chat-deployed-server.png') });
  });
});
