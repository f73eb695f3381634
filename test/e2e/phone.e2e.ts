import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { DEV_JWT_SECRET } from '../../src/auth.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import { ChatClient } from '../support/chat.ts';
import {
  conversation,
  expectNoPageErrors,
  joinRoom,
  launchBrowser,
  onScreen,
  PHONE,
  say,
  screenshot,
  sees,
  startStack,
  statusSays,
} from './support.ts';

/** The demo page on a phone-sized screen (375×667): everything that matters fits without scrolling the page. */
let stack: LocalStack;
let browser: Browser;

before(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

describe('demo page on a phone', () => {
  it('the composer stays in view, members open from the header, the form is compact', async () => {
    const context = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(stack.httpUrl);
    assert.ok(
      await onScreen(page, page.getByRole('button', { name: 'Join' })),
      'the Join button without scrolling',
    );
    await screenshot(page, 'phone-1-join');

    const quinn = await ChatClient.connect(stack, 'quinn', 'phone', '', { secret: DEV_JWT_SECRET });
    for (let i = 1; i <= 30; i++) quinn.send({ action: 'sendMessage', message: `message ${i} from quinn` });
    for (let i = 1; i <= 30; i++) await quinn.next((frame) => frame.message === `message ${i} from quinn`);

    await joinRoom(page, stack.httpUrl, 'pat', 'phone');
    await conversation(page).locator('li[data-id]').nth(29).waitFor();
    await say(page, 'hi from my phone');
    await sees(page, 'hi from my phone');
    const composer = page.getByLabel('Message', { exact: true });
    assert.ok(await onScreen(page, composer), 'the message box without scrolling');
    assert.ok(await onScreen(page, page.getByRole('button', { name: 'Send' })), 'Send without scrolling');
    assert.ok(
      await onScreen(page, conversation(page).locator('li[data-id]').last()),
      'the newest message in view',
    );
    assert.equal(
      await page.locator('html').evaluate((html) => html.scrollHeight <= html.clientHeight),
      true,
      'the page itself does not scroll: the messages do',
    );
    // Members are not under the composer: behind a header button.
    assert.equal(await page.locator('#members-panel').isVisible(), false);
    await screenshot(page, 'phone-2-chat');

    await page.getByRole('button', { name: /^Members/ }).click();
    const quinnButton = page.locator('#members button[data-user="quinn"]');
    await quinnButton.waitFor();
    assert.ok(await onScreen(page, quinnButton));
    await screenshot(page, 'phone-3-members');
    await quinnButton.click();
    assert.equal(
      await page.locator('#members-panel').isVisible(),
      false,
      'choosing someone closes the panel',
    );
    await say(page, 'just you and me');
    await sees(page, 'just you and me', '@quinn');
    assert.ok(await onScreen(page, composer));
    const tab = page.locator('#conversations button[data-conversation="@quinn"]');
    assert.ok(await onScreen(page, tab), 'the conversation tabs in view');
    await screenshot(page, 'phone-4-direct');

    await context.setOffline(true);
    await statusSays(page, 'Offline — will reconnect when the network is back');
    assert.ok(await onScreen(page, composer), 'the message box, also offline');
    await screenshot(page, 'phone-5-offline');
    await context.setOffline(false);
    await statusSays(page, 'Connected');
    expectNoPageErrors(page);
    await quinn.close();
    await context.close();
  });
});
