// From pages on other origins, call the ContextQL API with fetch in Debian's headless Chromium (playwright-core).
// usage: node cors.mjs <graphql-url> <page-url>...
// Prints one JSON line: for each page, what its fetch got ({status, body}) or the error the browser raised.
import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [api, ...pages] = process.argv.slice(2);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "contextql-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const results = [];
  for (const url of pages) {
    const page = await browser.newPage();
    const console_ = [];
    page.on("console", (message) => console_.push(message.text()));
    await page.goto(url);
    // a JSON body makes this a non-simple request: the browser sends a preflight first
    const outcome = await page.evaluate(async (endpoint) => {
      try {
        const response = await fetch(endpoint, {
          method: "POST",
          headers: { "content-type": "application/json", "x-request-id": "cors-test" },
          body: JSON.stringify({ query: "{ contexts { totalCount } }" }),
        });
        return { status: response.status, body: await response.json() };
      } catch (error) {
        return { error: String(error) };
      }
    }, api);
    results.push({ page: url, origin: await page.evaluate(() => location.origin), ...outcome, console: console_ });
    await page.close();
  }
  process.stdout.write(JSON.stringify(results) + "\n");
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
