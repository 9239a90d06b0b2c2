// Open WebUI's real page in headless Chromium, against docqa serve: pick a model, ask one
// question, wait for the answer, open the first source chip, save screenshots, the page's chips
// and pop-up as seen, and the chat as Open WebUI saved it (its messages' `sources`).
// Usage: node scripts/try_open_webui.mjs OPEN_WEBUI_URL OUT_DIR MODEL_ID QUESTION
// (driven by scripts/try_open_webui.sh; puppeteer-core comes from tests/browser/node_modules)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(new URL("../tests/browser/package.json", import.meta.url));
const puppeteer = require("puppeteer-core");

const [url, out, modelId, question] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium-headless-shell";
const profile = mkdtempSync(join(tmpdir(), "docqa-owui-chromium-"));
const browser = await puppeteer.launch({
  executablePath,
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    `--user-data-dir=${profile}`,
  ],
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error("[driver]", ...a);
const report = { url, model: modelId, question, outside_requests: [] };

async function clickText(page, selector, text) {
  return page.evaluate((selector, text) => {
    const el = [...document.querySelectorAll(selector)].find((e) => e.innerText.trim() === text);
    if (el) el.click();
    return Boolean(el);
  }, selector, text);
}

// Open WebUI's own API, with the token its page keeps (auth is off: the page signs in itself)
const api = (page, path) =>
  page.evaluate(async (path) => {
    const r = await fetch(path, { headers: { Authorization: `Bearer ${localStorage.token}` } });
    return r.json();
  }, path);

try {
  const page = await browser.newPage();
  page.on("request", (r) => {
    const where = r.url();
    if (!where.startsWith(url) && !where.startsWith("data:") && !where.startsWith("blob:"))
      report.outside_requests.push(where);
  });
  await page.setViewport({ width: 1280, height: 1000 });
  await page.goto(url + "/", { waitUntil: "networkidle2", timeout: 120000 });

  // the "What's New" dialog comes once per new user: dismiss it
  await page.waitForSelector("#chat-input", { timeout: 60000 });
  await sleep(1500);
  if (await clickText(page, "button", "Okay, Let's Go!")) log("dismissed What's New");
  await sleep(500);

  // pick the model: the selector's button opens a list with a search box
  await page.click("#model-selector-model-button");
  await sleep(800);
  const search = await page.$("input[placeholder*='Search'][placeholder*='odel'], #model-search-input");
  if (search) await search.type(modelId);
  await sleep(800);
  const picked = await page.evaluate((modelId) => {
    const items = [...document.querySelectorAll("[role='menuitem'], [role='option'], button")];
    const el = items.find((e) => e.getAttribute("data-value") === modelId)
      || items.find((e) => e.innerText.trim() === modelId)
      || items.find((e) => e.innerText.trim().split("\n")[0] === modelId);
    if (el) el.click();
    return el ? el.outerHTML.slice(0, 200) : null;
  }, modelId);
  log("model item", picked);
  await sleep(800);
  report.selected_model = await page.$eval("#model-selector-model-button", (b) => b.innerText.trim());
  if (report.selected_model !== modelId) throw new Error(`model not selected: ${report.selected_model}`);
  // which connection each model id came from (Open WebUI keeps one model per id)
  const models = await api(page, "/api/models");
  report.models = (models.data ?? []).map((m) => ({ id: m.id, owned_by: m.owned_by }));
  report.model_owned_by = report.models.find((m) => m.id === modelId)?.owned_by;

  // ask
  await page.click("#chat-input");
  await page.keyboard.type(question);
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => location.pathname.startsWith("/c/"), { timeout: 60000 });
  const chatId = (await page.evaluate(() => location.pathname)).split("/").pop();
  report.chat_id = chatId;
  log("chat", chatId);

  // done when Open WebUI has saved the assistant message as done (then let the page settle)
  let chat;
  const started = Date.now();
  for (;;) {
    chat = await api(page, `/api/v1/chats/${chatId}`);
    const h = chat?.chat?.history;
    const m = h?.messages?.[h.currentId];
    if (m && m.role === "assistant" && m.done) break;
    if (Date.now() - started > 300000) throw new Error("no finished answer after 300 s");
    await sleep(2000);
  }
  report.answer_seconds = (Date.now() - started) / 1000;
  await sleep(3000);
  chat = await api(page, `/api/v1/chats/${chatId}`);
  writeFileSync(join(out, "chat.json"), JSON.stringify(chat, null, 2));
  const history = chat.chat.history;
  const message = history.messages[history.currentId];
  report.message_id = message.id;
  report.answer = message.content;
  writeFileSync(join(out, "sources.json"), JSON.stringify(message.sources ?? [], null, 2));

  // the chips: "N Sources" opens the list; each chip is #source-<message id>-<n>
  const toggled = await page.evaluate(() => {
    const b = [...document.querySelectorAll("button")].find((e) =>
      /^(\d+ Sources|1 Source)$/.test(e.innerText.trim().split("\n").pop()));
    if (b) b.click();
    return b ? b.innerText.trim() : null;
  });
  report.sources_button = toggled;
  await sleep(800);
  report.chips = await page.$$eval(`[id^="source-${message.id}-"]`, (bs) =>
    bs.map((b) => ({ id: b.id, label: b.getAttribute("aria-label"), text: b.innerText.trim() })));
  // the answer's [n] markers, rendered as pills inside the message
  report.inline_pills = await page.$$eval(`#message-${message.id} button[aria-label^="View source: "]`, (bs) =>
    bs.filter((b) => !b.id.startsWith("source-")).map((b) => b.innerText.trim()));
  report.favicon_images = await page.$$eval("img[alt='favicon']", (is) => is.map((i) => i.src));
  await page.screenshot({ path: join(out, "answer.png"), fullPage: false });

  if (report.chips.length) {
    await page.click(`#${report.chips[0].id}`);
    await page.waitForSelector("[aria-label='Close citation modal']", { timeout: 10000 });
    await sleep(800);
    report.popup = await page.evaluate(() => {
      const close = document.querySelector("[aria-label='Close citation modal']");
      let modal = close;
      while (modal && modal.parentElement && !modal.parentElement.matches("body")) {
        if (modal.getBoundingClientRect().height > 150) break;
        modal = modal.parentElement;
      }
      const links = [...modal.querySelectorAll("a")].map((a) => ({ text: a.innerText.trim(), href: a.href }));
      const badges = [...modal.querySelectorAll("span")].map((s) => s.innerText.trim())
        .filter((t) => /%$|^\(\d|^\(page/.test(t));
      return { text: modal.innerText.slice(0, 3000), links, badges };
    });
    await page.screenshot({ path: join(out, "popup.png"), fullPage: false });
  }
} catch (error) {
  report.error = String(error?.stack || error);
  const pages = await browser.pages();
  if (pages.length) await pages[pages.length - 1].screenshot({ path: join(out, "error.png") }).catch(() => {});
  process.exitCode = 1;
} finally {
  writeFileSync(join(out, "page.json"), JSON.stringify(report, null, 2));
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
