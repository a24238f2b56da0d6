// Drive ContextQL's GraphiQL (/graphql) in Debian's headless Chromium with playwright-core, offline:
// every request to anything but 127.0.0.1 is aborted and reported.
// usage: node graphiql.mjs <base-url> <screenshot.png> <subscription> <expected-path> [<headers-json>]
// With headers, they are typed into GraphiQL's Headers tab first (and must then carry HTTP and WebSocket alike).
// Prints {"query": ...} once the default operation ran, then {"subscribed": true} once the pasted subscription
// is running; waits for "go" on stdin (the test then makes the change), waits for the event to show,
// takes the screenshot and prints {"event": ..., "title", "offsite", "problems"}.
import { chromium } from "playwright-core";
import readline from "node:readline";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [base, screenshot, subscription, expectedPath, headers] = process.argv.slice(2);
const print = (value) => process.stdout.write(JSON.stringify(value) + "\n");
const local = (url) => url.startsWith("data:") || new URL(url).hostname === "127.0.0.1";
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "contextql-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1400, height: 800 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const offsite = [];
const problems = [];
// No internet: what the page would fetch elsewhere (a CDN, fonts) fails, and is recorded.
await browser.route("**/*", (route) => {
  const url = route.request().url();
  if (local(url)) return route.continue();
  offsite.push(url);
  return route.abort("internetdisconnected");
});
const resultText = (page) => page.locator(".graphiql-response .CodeMirror").first().evaluate((el) => el.CodeMirror.getValue());
try {
  const page = await browser.newPage();
  page.on("pageerror", (error) => problems.push(String(error)));
  page.on("console", (message) => message.type() === "error" && problems.push(message.text()));
  page.on("websocket", (socket) => { if (!local(socket.url())) offsite.push(socket.url()); });
  await page.goto(`${base}/graphql`);
  await page.waitForSelector(".graphiql-query-editor .CodeMirror", { timeout: 20_000 });
  const editor = page.locator(".graphiql-query-editor .CodeMirror").first();
  const opening = await editor.evaluate((el) => el.CodeMirror.getValue());
  if (headers) {
    await page.getByRole("button", { name: "Headers" }).click();
    const headersEditor = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror").first();
    await headersEditor.evaluate((el, text) => el.CodeMirror.setValue(text), headers);
    // (read from the editor at each run; GraphiQL does not store headers unless asked to)
  }

  // the opening operation, run as a person would: the run button
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(() => {
    const cm = document.querySelector(".graphiql-response .CodeMirror");
    return cm && cm.CodeMirror.getValue().includes("totalCount");
  }, null, { timeout: 15_000 });
  print({ opening, query: JSON.parse(await resultText(page)) });

  // paste a subscription over the editor's content and run it with the keyboard
  await editor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(subscription);
  // GraphiQL takes in an edit after a short debounce (a person pauses that long anyway): run once it has,
  // which shows as the edit being saved, or it would still send the previous operation's name.
  await page.waitForFunction((text) => localStorage.getItem("graphiql:query") === text, subscription,
    { timeout: 5_000 });
  await page.keyboard.press("Control+Enter");
  print({ subscribed: true });
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === "go") break;
  lines.close();
  process.stdin.destroy();

  await page.waitForFunction((expected) => {
    const cm = document.querySelector(".graphiql-response .CodeMirror");
    return cm && cm.CodeMirror.getValue().includes(expected);
  }, expectedPath, { timeout: 15_000 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: screenshot });
  print({ event: JSON.parse(await resultText(page)), title: await page.title(), offsite, problems });
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
