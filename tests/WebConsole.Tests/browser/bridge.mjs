// The browser tests' bridge to Chromium: reads one JSON command per line on stdin, runs it with playwright-core on
// Debian's Chromium (no browser download), and answers one JSON line per command on stdout: {id, ok, value} or
// {id, ok: false, error}. The C# tests decide what to do and check what comes back; this file only drives the page.
import { createInterface } from "node:readline";
import { readFile } from "node:fs/promises";
import { chromium } from "playwright-core";

let browser;
let page;
const pageErrors = [];

function send(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

const commands = {
  async launch({ executablePath, width = 1400, height = 900 }) {
    browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width, height } });
    page = await context.newPage();
    page.on("pageerror", error => pageErrors.push(`pageerror: ${error.message}`));
    page.on("console", message => { if (message.type() === "error") pageErrors.push(`console: ${message.text()}`); });
    page.on("requestfailed", request => pageErrors.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
    return browser.version();
  },
  async initScript({ script }) {
    await page.addInitScript(script);
    return null;
  },
  async goto({ url, timeout }) {
    const response = await page.goto(url, { waitUntil: "load", timeout });
    return response?.status() ?? 0;
  },
  // Polls the expression with page.evaluate (the devtools protocol's evaluation, which the page's CSP does not block;
  // Playwright's own waitForFunction compiles the expression inside the page, which a CSP without 'unsafe-eval' refuses).
  async waitForFunction({ expression, timeout = 20000 }) {
    const deadline = Date.now() + timeout;
    let last;
    for (;;) {
      try {
        last = await page.evaluate(expression);
      } catch (error) {
        // A navigation in progress destroys the context: try again.
        if (!/context was destroyed|navigat/i.test(String(error?.message))) throw error;
      }
      if (last) return last;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for: ${expression} (last value: ${JSON.stringify(last)})`);
      await new Promise(resolve => setTimeout(resolve, 50));
    }
  },
  async evaluate({ expression }) {
    return await page.evaluate(expression);
  },
  async click({ selector, timeout }) {
    await page.click(selector, { timeout });
    return null;
  },
  async fill({ selector, value, timeout }) {
    await page.fill(selector, value, { timeout });
    return null;
  },
  async download({ selector, timeout }) {
    const [download] = await Promise.all([page.waitForEvent("download", { timeout }), page.click(selector, { timeout })]);
    const path = await download.path();
    return { fileName: download.suggestedFilename(), text: await readFile(path, "utf8") };
  },
  async screenshot({ path, selector, fullPage = false }) {
    if (selector) {
      await page.locator(selector).screenshot({ path });
    } else {
      await page.screenshot({ path, fullPage });
    }
    return path;
  },
  async errors() {
    return pageErrors.splice(0);
  },
  async close() {
    await browser?.close();
    browser = undefined;
    return null;
  },
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let command;
  try {
    command = JSON.parse(line);
  } catch (error) {
    send({ id: null, ok: false, error: `not JSON: ${error.message}` });
    continue;
  }
  const run = commands[command.op];
  if (!run) {
    send({ id: command.id, ok: false, error: `unknown op '${command.op}'` });
    continue;
  }
  try {
    send({ id: command.id, ok: true, value: (await run(command)) ?? null });
  } catch (error) {
    send({ id: command.id, ok: false, error: String(error?.message ?? error) });
  }
  if (command.op === "close") break;
}
await browser?.close();
