import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { signDevToken } from '../../src/auth.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import {
  connected,
  conversation,
  expectNoPageErrors,
  launchBrowser,
  newPage,
  say,
  screenshot,
  sees,
  startStack,
} from './support.ts';

/**
 * The demo page pointed at another server, as the deploy walkthrough does (infra/terraform/README.md): a second
 * stack with its own secret stands in for the deployed API; the page is served by the first one.
 */
const secret = 'walkthrough-deployed-secret-0123456789abcdef';
let local: LocalStack;
let deployed: LocalStack;
let browser: Browser;

before(async () => {
  [local, deployed, browser] = await Promise.all([
    startStack(),
    startStack({ stage: 'prod', env: { JWT_SECRET: secret } }),
    launchBrowser(),
  ]);
});

after(async () => {
  await browser?.close();
  await Promise.all([local?.close(), deployed?.close()]);
});

describe('demo page pointed at a deployed API', () => {
  it('without a token it says what to do; a pasted token decides who you are, whatever the name field says', async () => {
    const { page: mallory } = await newPage(browser);
    await mallory.goto(`${local.httpUrl}?server=${encodeURIComponent(deployed.wsUrl)}`);
    // Settings given in the address are shown, open.
    assert.equal(await mallory.getByRole('textbox', { name: 'Server' }).inputValue(), deployed.wsUrl);
    await mallory.getByRole('textbox', { name: 'Room' }).fill('walkthrough');
    await mallory.getByRole('button', { name: 'Join' }).click();
    await mallory.getByRole('alert').filter({ hasText: 'needs a token signed with its secret' }).waitFor();
    await screenshot(mallory, 'deployed-1-no-token');

    assert.equal(await mallory.getByRole('textbox', { name: 'Name' }).inputValue(), 'alice');
    await mallory.getByRole('textbox', { name: 'Token' }).fill(await signDevToken(secret, 'mallory'));
    await mallory.getByText('The token signs you in as “mallory”.').waitFor();
    await mallory.getByRole('button', { name: 'Join' }).click();
    await connected(mallory);
    assert.equal(await mallory.locator('#me').textContent(), 'You are mallory');

    // Bob's link carries the server and his token; the token leaves the address bar.
    const { page: bob } = await newPage(browser);
    const bobToken = await signDevToken(secret, 'bob');
    await bob.goto(`${local.httpUrl}?url=${encodeURIComponent(deployed.wsUrl)}&token=${bobToken}`);
    assert.equal(new URL(bob.url()).searchParams.has('token'), false, 'no token in the address bar');
    await bob.getByRole('textbox', { name: 'Room' }).fill('walkthrough');
    await bob.getByRole('button', { name: 'Join' }).click();
    await connected(bob);
    assert.equal(await bob.locator('#me').textContent(), 'You are bob');

    await say(mallory, 'hello from the deployed stack');
    await sees(bob, 'hello from the deployed stack');
    await sees(mallory, 'hello from the deployed stack');
    assert.equal(await conversation(bob).locator('li.mine').count(), 0);
    assert.equal(
      await conversation(mallory).locator('li.mine').count(),
      1,
      'her own message is styled as hers',
    );
    await mallory.locator('#members button[data-user="bob"]').waitFor();
    assert.equal(await mallory.locator('#members li.self').textContent(), 'mallory (you)');
    assert.equal((await deployed.deps.connections.roomMembers('walkthrough')).length, 2);
    assert.equal((await local.deps.connections.roomMembers('walkthrough')).length, 0);
    await screenshot(mallory, 'deployed-2-token-identity');

    // A reload keeps the server, the token and the room, and joins again.
    await mallory.reload();
    await connected(mallory);
    assert.equal(await mallory.locator('#me').textContent(), 'You are mallory');
    await sees(mallory, 'hello from the deployed stack');
    expectNoPageErrors(mallory);
    expectNoPageErrors(bob);
    await Promise.all([mallory.context().close(), bob.context().close()]);
  });
});
