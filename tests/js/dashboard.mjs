// Drive /dashboard in Debian's headless Chromium with playwright-core.
// usage: node dashboard.mjs <base-url> <path> <screenshot.png> <expect-json>
// Prints {"ready":true} once the page is live, waits for "go" on stdin, then for every expected
// path to show in the feed and the tree, takes the screenshot and prints what the page shows.
import { chromium } from "playwright-core";
import readline from "node:readline";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [base, watched, screenshot, expectJson] = process.argv.slice(2);
const expected = JSON.parse(expectJson);
const print = (value) => process.stdout.write(JSON.stringify(value) + "\n");
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "contextql-chromium-"));
// A fresh profile per run (playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 720 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(String(error)));
  await page.goto(`${base}/dashboard?path=${encodeURIComponent(watched)}`);
  await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
  print({ ready: true });
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === "go") break;
  lines.close();
  process.stdin.destroy();

  for (const item of expected.feed) {
    await page.waitForSelector(`#feed li:has-text("${item}")`, { timeout: 15_000 });
  }
  for (const node of expected.tree) {
    const parent = node.split("/").slice(0, -1).join("/");
    // the parent shows it has children once the page has taken the change in; then expand it by clicking,
    // the way a person would (unless it is open already)
    await page.waitForFunction((p) => {
      const t = document.querySelector(`li[data-path="${p}"] > .node .toggle`);
      return t && t.textContent !== "·";
    }, parent, { timeout: 15_000 });
    // One click opens it for good: the page keeps which paths are open across redraws, so a redraw
    // by a later change (even one whose answers arrive out of order) leaves it open.
    const line = page.locator(`li[data-path="${parent}"] > .node`);
    if ((await line.locator(".toggle").textContent()) === "▸") await line.click();
    await page.waitForSelector(`li[data-path="${node}"]`, { timeout: 15_000 })
      .catch(() => { throw new Error(`${node} never showed in the tree`); });
  }
  await page.waitForTimeout(300);
  await page.screenshot({ path: screenshot, fullPage: true });
  print({
    feed: await page.locator("#feed li").allInnerTexts(),
    tree: await page.locator("#tree li").evaluateAll((items) => items.map((li) => li.dataset.path)),
    byOperation: await page.locator("#by-operation tr").allInnerTexts(),
    byKind: await page.locator("#by-kind tr").allInnerTexts(),
    executions: await page.locator("#executions li").allInnerTexts(),
    problems,
  });
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
