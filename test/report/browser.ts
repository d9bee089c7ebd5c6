/**
 * Opens an HTML report in a real headless Chromium (Debian's, driven by playwright-core; no
 * browser download) and reads back what rendered. With `SIEVE_REQUIRE_BROWSER=1` (set by CI) a
 * missing Chromium is an error, so CI never skips the browser check silently.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';

export const CHROMIUM = [process.env.SIEVE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p): p is string => !!p && existsSync(p));
/** Screenshots the tests keep (gitignored). */
export const ARTIFACTS = join(repoRoot, 'test-artifacts');

/** Why the browser check cannot run here, or undefined when it can (throws where CI requires it). */
export function browserMissing(): string | undefined {
  if (CHROMIUM) return undefined;
  if (process.env.SIEVE_REQUIRE_BROWSER === '1') throw new Error('SIEVE_REQUIRE_BROWSER=1 but no chromium found (apt-get install chromium, or set SIEVE_CHROMIUM)');
  return 'no chromium on this machine (Debian: apt-get install chromium)';
}

export interface Rendered {
  readonly images: number;
  /** Thumbnails the browser decoded (complete, with a width). */
  readonly decoded: number;
  readonly timelineWidth: number;
  readonly matchedMarks: number;
  readonly labelTicks: number;
  readonly planItems: number;
  readonly answer: string;
  /** Console errors and warnings, page errors and failed requests. */
  readonly problems: readonly string[];
}

/** Loads `file`, reads what rendered, and saves a full-page screenshot as `test-artifacts/<shot>`. */
export async function renderInBrowser(file: string, shot: string): Promise<Rendered> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    // Run in the page (a string, so this file needs no DOM types).
    const shown = (await page.evaluate(`(() => {
      const imgs = [...document.querySelectorAll('figure.thumb img')];
      const timeline = document.querySelector('svg.timeline');
      return {
        images: imgs.length,
        decoded: imgs.filter((i) => i.complete && i.naturalWidth > 0).length,
        timelineWidth: timeline ? timeline.getBoundingClientRect().width : 0,
        matchedMarks: document.querySelectorAll('svg.timeline rect.matched').length,
        labelTicks: document.querySelectorAll('svg.timeline rect.here, svg.timeline rect.before').length,
        planItems: document.querySelectorAll('#plan .tree li').length,
        answer: (document.querySelector('#answer .value') || {}).textContent || '',
      };
    })()`)) as Omit<Rendered, 'problems'>;
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, shot), fullPage: true });
    return { ...shown, problems };
  } finally {
    await browser.close();
  }
}
