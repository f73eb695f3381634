/**
 * What the browser tests share: Debian's Chromium driven by playwright-core, a local stack per file, and helpers
 * that drive the demo page the way a person does (by labels and roles), waiting for what the page shows, never for
 * a fixed time. Screenshots go to test/e2e/artifacts/ (git-ignored) for a person to look at.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Locator,
  type Page,
} from 'playwright-core';
import { DEV_JWT_SECRET } from '../../src/auth.ts';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../src/local/stack.ts';
import { ChatClient, UNLIMITED_FRAMES } from '../support/chat.ts';

export const ARTIFACTS = join(import.meta.dirname, 'artifacts');
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Generous for a loaded 2-core machine: every wait ends as soon as the page shows what it waits for. */
const TIMEOUT_MS = 15_000;
export const DESKTOP = { width: 1100, height: 720 };
export const PHONE = { width: 375, height: 667 };

export async function launchBrowser(): Promise<Browser> {
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

/** A local stack as `npm start` runs it (the development secret), without per-connection frame limits. */
export function startStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  return startLocalStack({
    port: 0,
    ...options,
    env: { LOG_LEVEL: 'SILENT', ...UNLIMITED_FRAMES, ...options.env },
  });
}

/**
 * A fresh browser profile (its own storage, its own network to switch off) with one page. Page errors fail the
 * test that waits next: they are collected and thrown by `expectNoPageErrors`.
 */
export async function newPage(
  browser: Browser,
  viewport: { width: number; height: number } = DESKTOP,
  options: BrowserContextOptions = {},
): Promise<{ page: Page; context: BrowserContext }> {
  const context = await browser.newContext({ ...options, viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  watchErrors(page);
  return { page, context };
}

const pageErrors = new WeakMap<Page, string[]>();

function watchErrors(page: Page): void {
  const errors: string[] = [];
  pageErrors.set(page, errors);
  page.on('pageerror', (error) => errors.push(error.message));
}

export function expectNoPageErrors(page: Page): void {
  const errors = pageErrors.get(page) ?? [];
  if (errors.length) throw new Error(`the page threw: ${errors.join('; ')}`);
}

/** Fills the join form (name, room) and joins; waits until the page says it is connected. */
export async function joinRoom(page: Page, url: string, user: string, room: string): Promise<void> {
  await page.goto(url);
  await page.getByRole('textbox', { name: 'Name' }).fill(user);
  await page.getByRole('textbox', { name: 'Room' }).fill(room);
  await page.getByRole('button', { name: 'Join' }).click();
  await connected(page);
}

export async function connected(page: Page): Promise<void> {
  await statusSays(page, 'Connected');
}

export async function statusSays(page: Page, text: string | RegExp): Promise<void> {
  await page
    .locator('#status')
    .filter({ hasText: typeof text === 'string' ? new RegExp(`^${escapeRegExp(text)}$`) : text })
    .waitFor();
}

/** Types a message in the composer and presses Enter. */
export async function say(page: Page, text: string): Promise<void> {
  const input = page.getByLabel('Message', { exact: true });
  await input.fill(text);
  await input.press('Enter');
}

/**
 * A conversation's list: `#room` for a room, `@user` for the direct messages with that user; without a key, the
 * room's (of a page in one room).
 */
export function conversation(page: Page, key?: string) {
  return page.locator(key ? `ol.messages[data-conversation="${key}"]` : 'ol.messages[data-room]');
}

/** The button in the list of conversations that shows one: `#room` or `@user`. */
export function conversationButton(page: Page, key: string) {
  return page.locator(`#conversations button.conversation[data-conversation="${key}"]`);
}

/**
 * Joins one more room on the page's connection through the room field beside the conversations (behind + on a
 * phone), and waits until the page shows it.
 */
export async function joinAnotherRoom(page: Page, room: string): Promise<void> {
  const field = page.getByRole('textbox', { name: 'Room to join' });
  if (!(await field.isVisible())) await page.getByRole('button', { name: 'Join a room' }).click();
  await field.fill(room);
  await field.press('Enter');
  await conversationButton(page, `#${room}`).and(page.locator('[aria-current="true"]')).waitFor();
}

/** Waits until a conversation lists a stored message (not a pending one) with this text, shown or not. */
export async function sees(page: Page, text: string, key?: string): Promise<void> {
  await conversation(page, key)
    .locator('li[data-id] .text')
    .getByText(text, { exact: true })
    .waitFor({ state: 'attached' });
}

/** The stored messages of a conversation, in the page's order, as `seq text`. */
export function lines(page: Page, key?: string): Promise<string[]> {
  return conversation(page, key)
    .locator('li[data-id]')
    .evaluateAll((items) =>
      items.map(
        (item) => `${item.getAttribute('data-seq')} ${item.querySelector('.text')?.textContent ?? ''}`,
      ),
    );
}

export function texts(page: Page, key?: string): Promise<string[]> {
  return conversation(page, key)
    .locator('li[data-id] .text')
    .evaluateAll((items) => items.map((item) => item.textContent ?? ''));
}

/** Whether the element is wholly inside the viewport, without scrolling. */
export async function onScreen(page: Page, locator: Locator): Promise<boolean> {
  const box = await locator.boundingBox();
  const viewport = page.viewportSize();
  return (
    box !== null &&
    viewport !== null &&
    box.y >= 0 &&
    box.x >= 0 &&
    box.y + box.height <= viewport.height &&
    box.x + box.width <= viewport.width
  );
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A page of its own (storage, network) that has joined `room` as `user`. */
export async function joinedPage(
  browser: Browser,
  stack: LocalStack,
  user: string,
  room: string,
): Promise<Page> {
  const { page } = await newPage(browser);
  await joinRoom(page, stack.httpUrl, user, room);
  return page;
}

/** Someone outside the browser: a raw WebSocket client with a development token. */
export function outsider(stack: LocalStack, user: string, room: string): Promise<ChatClient> {
  return ChatClient.connect(stack, user, room, '', { secret: DEV_JWT_SECRET });
}
