import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { DEV_JWT_SECRET } from '../../src/auth.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import { connectionIdOf, dropConnection } from '../client/support.ts';
import { ChatClient, eventually } from '../support/chat.ts';
import {
  connected,
  expectNoPageErrors,
  joinRoom,
  launchBrowser,
  newPage,
  say,
  screenshot,
  sees,
  startStack,
  statusSays,
  texts,
} from './support.ts';

/** The demo page when the connection goes: the server restarts, the network drops. It says so, and recovers. */
let browser: Browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** Sends messages as someone else and waits until the server has stored them all (their frames come back). */
/**
 * Stores `messages` one after another: frames sent together are stored in any order (API Gateway invokes them
 * concurrently), and the tests expect the page to show the room in the order sent.
 */
async function storedBy(client: ChatClient, messages: string[]): Promise<void> {
  for (const message of messages) {
    client.send({ action: 'sendMessage', message });
    await client.next((frame) => frame.message === message, 10_000);
  }
}

describe('demo page when the connection goes', () => {
  it('the server restarts while the page is open: it says so, comes back by itself, shows what it missed', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'roomcast-e2e-restart-'));
    let stack: LocalStack = await startStack({ dataDir });
    const port = Number(new URL(stack.httpUrl).port);
    try {
      const { page } = await newPage(browser);
      await joinRoom(page, stack.httpUrl, 'alice', 'restart');
      await say(page, 'before the restart');
      await sees(page, 'before the restart');

      await stack.close();
      await statusSays(page, "Can't reach the server");
      const reconnect = page.getByRole('button', { name: 'Reconnect' });
      await reconnect.waitFor();
      await screenshot(page, 'restart-1-server-down');

      // So that the page misses something for sure, it gets no token (as if the server were still away) until
      // the test has stored what it should miss.
      await page.route('**/_local/token**', (route) => route.abort('connectionrefused'));
      stack = await startStack({ port, dataDir });
      const bob = await ChatClient.connect(stack, 'bob', 'restart', '', { secret: DEV_JWT_SECRET });
      const missed = ['while you were away 1', 'while you were away 2', 'while you were away 3'];
      await storedBy(bob, missed);
      await page.unroute('**/_local/token**');

      // No click: the page retries by itself.
      await connected(page);
      await page.locator('#notice').filter({ hasText: 'Back online — 3 messages caught up' }).waitFor();
      await sees(page, missed[2] as string);
      assert.deepEqual(await texts(page), ['before the restart', ...missed], 'once each, in order');
      assert.equal(await reconnect.isVisible(), false, 'no Reconnect button once connected');
      assert.equal(await page.locator('#error').isVisible(), false, 'no stale error');
      await screenshot(page, 'restart-2-back-online');
      await say(page, 'after the restart');
      await bob.next((frame) => frame.message === 'after the restart');

      // Again, and this time the user does not wait: Reconnect tries at once. Token requests are held back until
      // the click, so the page cannot have reconnected by itself first (the button would be gone).
      let tokenRequests = 0;
      await page.route('**/_local/token**', (route) => {
        tokenRequests += 1;
        return route.abort('connectionrefused');
      });
      await stack.close();
      await statusSays(page, "Can't reach the server");
      stack = await startStack({ port, dataDir });
      await reconnect.waitFor();
      const before = tokenRequests;
      await reconnect.click();
      await eventually(
        () => tokenRequests,
        (count) => count > before,
        5000,
      );
      await page.unroute('**/_local/token**');
      // Now with a token: once more, unless the page's own retry got there first.
      await reconnect.click({ timeout: 2000 }).catch(() => {});
      await connected(page);
      await page
        .locator('#notice')
        .filter({ hasText: /^Back online$/ })
        .waitFor();
      assert.deepEqual(await texts(page), ['before the restart', ...missed, 'after the restart']);
      expectNoPageErrors(page);
      await bob.close();
      await page.context().close();
    } finally {
      await stack.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('offline and back: it says it is offline, then reconnects by itself and catches up', async () => {
    const stack = await startStack();
    try {
      const { page: alice, context } = await newPage(browser);
      await joinRoom(alice, stack.httpUrl, 'alice', 'offline');
      const { page: bob } = await newPage(browser);
      await joinRoom(bob, stack.httpUrl, 'bob', 'offline');
      await say(bob, 'before');
      await sees(alice, 'before');

      await context.setOffline(true);
      await statusSays(alice, 'Offline — will reconnect when the network is back');
      // A network that is gone takes the connection with it; the server finds out and removes it (here: now).
      await dropConnection(stack, await connectionIdOf(stack, 'offline', 'alice'));
      const missed = ['missed 1', 'missed 2', 'missed 3'];
      for (const text of missed) {
        await say(bob, text);
        await sees(bob, text);
      }
      await screenshot(alice, 'offline-1-offline');
      assert.deepEqual(await texts(alice), ['before']);

      await context.setOffline(false);
      await connected(alice);
      await alice.locator('#notice').filter({ hasText: 'Back online — 3 messages caught up' }).waitFor();
      await sees(alice, 'missed 3');
      assert.deepEqual(await texts(alice), ['before', ...missed]);
      await screenshot(alice, 'offline-2-back-online');
      expectNoPageErrors(alice);
      await Promise.all([context.close(), bob.context().close()]);
    } finally {
      await stack.close();
    }
  });
});
