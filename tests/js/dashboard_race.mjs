// The dashboard's tree when two redraws overlap and the older one's answer arrives last.
// usage: node dashboard_race.mjs <base-url> <path>
// Opens /dashboard on <path> (whose only child has a child of its own), prints {"ready":true}, then holds
// the next answer listing <path>'s children and prints {"held":true}. The caller then makes a second
// change: its redraw is answered at once, after which the held (older) answer is released. Then a click
// on the child must open it; prints {"opened": true|false, "problems": [...]}.
import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [base, watched] = process.argv.slice(2);
const print = (value) => process.stdout.write(JSON.stringify(value) + "\n");
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "contextql-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(String(error)));

  let hold = false;
  let held = null; // {route, response} of the older redraw's answer
  let delivered;
  const answered = new Promise((resolve) => { delivered = resolve; }); // a later listing, delivered after it
  const listsChildren = (request) => {
    const body = request.postDataJSON?.() ?? null;
    return body && body.query.includes("startsWith") && body.variables?.prefix === watched + "/";
  };
  await page.route("**/graphql", async (route) => {
    const request = route.request();
    if (request.method() !== "POST" || !listsChildren(request)) return route.continue();
    const response = await route.fetch();
    if (hold) {
      hold = false;
      held = { route, response };
      print({ held: true });
      return;
    }
    await route.fulfill({ response });
    if (held !== null) delivered();
  });

  const child = `${watched}/projects`;
  await page.goto(`${base}/dashboard?path=${encodeURIComponent(watched)}`);
  await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
  await page.waitForFunction((p) => document.querySelector(`li[data-path="${p}"] > .node .toggle`)?.textContent === "▸",
    child, { timeout: 15_000 });
  hold = true;
  print({ ready: true });

  // the caller's first change starts redraw A (held); its second starts redraw B, answered at once
  await answered;
  await page.waitForFunction((p) => !!document.querySelector(`li[data-path="${p}"]`), child);
  const finished = page.waitForEvent("requestfinished", { predicate: (request) => request === held.route.request() });
  await held.route.fulfill({ response: held.response }); // A's answer, now older than what is on screen
  await finished;
  await page.evaluate(() => new Promise((resolve) => setTimeout(() => setTimeout(resolve, 0), 0))); // let the page take it

  await page.locator(`li[data-path="${child}"] > .node`).click();
  const opened = await page.waitForFunction((p) => document.querySelector(`li[data-path="${p}"] > ul > li`), child,
    { timeout: 5_000 }).then(() => true, () => false);
  print({ opened, problems });
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
