// The published monitor in a real browser (spec 7.2): every page of a publication is opened
// in headless Chromium at 360 px and 1280 px; axe-core's WCAG 2.1 A/AA rules must report no
// violation, no request may leave the machine, nothing may overflow the width, and a
// screenshot of each page at each width (and of the overview as printed) is written for a
// person to look at.
//
// node check.mjs SITE_DIR SCREENSHOT_DIR CHROMIUM_PATH
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);
const [site, shots, chromium] = process.argv.slice(2);
if (!site || !shots || !chromium) {
  console.error('usage: node check.mjs SITE_DIR SCREENSHOT_DIR CHROMIUM_PATH');
  process.exit(2);
}
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const root = fs.realpathSync(site);
const pages = fs.readdirSync(root).filter((f) => f.endsWith('.html')).sort();
fs.mkdirSync(shots, { recursive: true });

const problems = [];
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  // Root in CI containers: Chromium's sandbox needs user namespaces it may not have.
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions'],
});
try {
  const page = await browser.newPage();
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    const url = req.url();
    if (url.startsWith('file://') || url.startsWith('data:') || url === 'about:blank') {
      req.continue();
    } else {
      problems.push(`${page.url()}: a request left the machine: ${url}`);
      req.abort();
    }
  });
  page.on('pageerror', (e) => problems.push(`${page.url()}: script error ${e.message}`));
  for (const name of pages) {
    const url = 'file://' + path.join(root, name);
    for (const width of [360, 1280]) {
      await page.setViewport({ width, height: 800 });
      await page.emulateMediaType('screen');
      const resp = await page.goto(url, { waitUntil: 'load' });
      if (!resp || !resp.ok()) problems.push(`${name}: cannot be opened`);
      const overflow = await page.evaluate(() => {
        const w = document.documentElement.clientWidth;
        const wide = [];
        for (const el of document.querySelectorAll('body *')) {
          const r = el.getBoundingClientRect();
          if (r.width > 0 && (r.right > w + 0.5 || r.left < -0.5) && !el.closest('.skip')) {
            wide.push(`${el.tagName.toLowerCase()}${el.className ? '.' + el.className : ''} [${Math.round(r.left)}, ${Math.round(r.right)}]`);
          }
        }
        return { scroll: document.documentElement.scrollWidth, width: w, wide: wide.slice(0, 5) };
      });
      if (overflow.scroll > overflow.width || overflow.wide.length) {
        problems.push(`${name} at ${width} px overflows (${overflow.scroll} > ${overflow.width}): ${overflow.wide.join(', ')}`);
      }
      await page.screenshot({ path: path.join(shots, `${name.replace(/\.html$/, '')}-${width}.png`), fullPage: true });
      // axe is added for the check only: the site itself needs no script.
      await page.addScriptTag({ content: axeSource });
      const result = await page.evaluate(async () =>
        // eslint-disable-next-line no-undef
        await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
      );
      for (const v of result.violations) {
        problems.push(`${name} at ${width} px: ${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')}`);
      }
    }
  }
  // The overview as printed.
  await page.setViewport({ width: 794, height: 1123 });
  await page.emulateMediaType('print');
  await page.goto('file://' + path.join(root, 'index.html'), { waitUntil: 'load' });
  await page.screenshot({ path: path.join(shots, 'index-print.png'), fullPage: true });
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(`${problems.length} problem(s):\n` + problems.join('\n'));
  process.exit(1);
}
console.log(`${pages.length} pages checked at 360 and 1280 px: no axe violation, no outside request, no overflow; screenshots in ${shots}`);
